"""momoscan's exit codes (the README's table): 0 ok (also when stopped by Ctrl-C or SIGTERM);
1 the refresh failed; 2 usage, config or database error at start; 3 with
--exit-code-on-new-entrant, a new name entered the daily options top 10; 4 with
--exit-code-on-alert, an alert rule fired."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEW_ENTRANT = 3
EXIT_ALERT = 4

import sys

from .cli import main

# The guard matters: the simulated market runs in a spawned process, which imports the main
# module again; without it, that process would start momoscan all over.
if __name__ == "__main__":
    sys.exit(main())

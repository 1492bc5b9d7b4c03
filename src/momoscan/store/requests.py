"""What viewers ask of the collector (refresh now, watchlist edits) and its answers, and how a
reader tells that another connection has committed."""

from __future__ import annotations

from .connection import StoreBase


class RequestsMixin(StoreBase):
    def post_request(self, kind: str, arg: str = "", *, at: float) -> int:
        """A viewer's request to the collector (`kind`: "refresh", "watch", "unwatch"); its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO collector_requests (kind, arg, made_at) VALUES (?, ?, ?)",
                (kind, arg, at),
            )
        return int(cursor.lastrowid or 0)

    def take_requests(self, *, at: float, max_age: float = 60.0) -> list[tuple[int, str, str]]:
        """The collector takes the requests not taken yet, oldest first, as (id, kind, arg);
        those older than `max_age` seconds (their viewer has given up) are answered as
        expired instead. Answered requests older than a day are deleted.

        Asked four times a second: with nothing waiting (the usual case) it is one read, no
        write transaction (the collector's writer has better things to do)."""
        waiting = self.conn.execute(
            "SELECT 1 FROM collector_requests WHERE taken_at IS NULL LIMIT 1"
        ).fetchone()
        if waiting is None:
            return []
        with self.transaction() as conn:
            conn.execute(
                "UPDATE collector_requests SET taken_at = ?, answered_at = ?, ok = 0, "
                "answer = 'expired' WHERE taken_at IS NULL AND made_at < ?",
                (at, at, at - max_age),
            )
            rows = conn.execute(
                "SELECT id, kind, arg FROM collector_requests WHERE taken_at IS NULL ORDER BY id"
            ).fetchall()
            if rows:
                conn.execute(
                    "UPDATE collector_requests SET taken_at = ? WHERE taken_at IS NULL", (at,)
                )
            conn.execute("DELETE FROM collector_requests WHERE made_at < ?", (at - 86_400.0,))
        return [(int(i), str(k), str(a)) for i, k, a in rows]

    def answer_request(self, request_id: int, ok: bool, answer: str, *, at: float) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE collector_requests SET answered_at = ?, ok = ?, answer = ? WHERE id = ?",
                (at, int(ok), answer, request_id),
            )

    def request_answer(self, request_id: int) -> tuple[bool, str] | None:
        """(ok, answer) once the collector has answered request `request_id`, else None."""
        row = self.conn.execute(
            "SELECT ok, answer FROM collector_requests WHERE id = ? AND answered_at IS NOT NULL",
            (request_id,),
        ).fetchone()
        return None if row is None else (bool(row[0]), str(row[1] or ""))

    def data_version(self) -> int:
        """SQLite's `PRAGMA data_version`: changes when another connection commits."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

"""The web UI's HTTP side: a Starlette app over one ``Source``, read-only.

=========================================  ==================================================
``GET /``                                  the page (``static/index.html``); views by URL
                                           fragment: ``#/runs``, ``#/run/ID``, ``#/sql?q=``,
                                           ``#/verify``
``GET /api/info``                          the source, run count, the legend
``GET /api/runs``                          one page of runs: ``offset``, ``limit``, ``sort``,
                                           ``desc``, ``status``, ``agent``, ``service``,
                                           ``conversation``, ``q`` (ids, agents, payload text)
``GET /api/conversations``                 the runs grouped by conversation, newest first
``GET /api/runs/{id}``                     the run document (``runview``); ``after_seq=N``:
                                           only the facts after N (the live view's update)
``GET /api/runs/{id}/facts/{seq}``         one whole envelope
``GET /api/sql?q=``                        read-only SQL (the confined connection); a query
                                           refused or invalid is 200 with ``error``
``GET /api/verify?run=``                   chains and checkpoint, in words
``GET /api/events``                        server-sent events: the changed runs' rows
=========================================  ==================================================

Every answer carries a Content-Security-Policy that allows this origin only, so the page
cannot reach anything off the machine. With tokens (the receiver's ``--token-file`` or
``$CHATSNAPSHOT_TOKENS``), every route but ``/login`` and the static files needs
``Authorization: Bearer TOKEN`` or the cookie ``/login`` sets.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chatsnapshot.errors import ChatSnapshotError
from chatsnapshot.ledger.ids import runs_named
from chatsnapshot.receiver.auth import Authenticator
from chatsnapshot.ui.index import SORTABLE, RunIndex
from chatsnapshot.ui.runview import fact_json, legend, run_document
from chatsnapshot.ui.sources import Source

__all__ = ["COOKIE", "SQL_ROWS", "UiState", "create_app"]

STATIC = Path(__file__).parent / "static"
COOKIE = "chatsnapshot_token"
SQL_ROWS = 1000  # rows of an SQL answer the page shows (it says how many there were)
_EVENT_ROWS = 200  # changed rows per server-sent event at most (the page reloads its page beyond)
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class UiState:
    """What the app serves from: the source, the runs index it keeps current, the follower."""

    def __init__(self, source: Source, index: RunIndex | None = None) -> None:
        self.source, self.index = source, index or RunIndex()
        self.stop, self.caught_up = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._follow, name="chatsnapshot-ui-follow", daemon=True)

    def start(self, wait: float = 120.0) -> bool:
        """Start following the source; True once the index holds what the source had at start."""
        self._thread.start()
        return self.caught_up.wait(wait)

    def _follow(self) -> None:
        self.source.follow(self.index.add, self.stop, self.caught_up)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        self.source.close()

    def resolve(self, wanted: str) -> str | None:
        """The run ``wanted`` names (its id, or a unique start or end of it); None: none, or several."""
        matches = runs_named(wanted, self.index.ids())
        return matches[0] if len(matches) == 1 else None


def _paging(q: Any) -> tuple[int, int] | None:
    """``offset`` and ``limit`` (1..500, default 50) of a query string; None when they are not numbers."""
    try:
        return max(int(q.get("offset", 0)), 0), min(max(int(q.get("limit", 50)), 1), 500)
    except ValueError:
        return None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(state: UiState, *, tokens: tuple[str, ...] = (), hosts: frozenset[str] | None = None) -> Starlette:
    """The app over ``state``. ``tokens``: required of every request (none: open to whoever
    reaches it). ``hosts``: the only Host names answered (None: any), so that a page elsewhere
    cannot rebind a name of its own to this address; requests a browser marks as coming from
    another site are refused whatever the tokens."""
    auth = Authenticator(tokens)

    async def index_page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def login_page(request: Request) -> Response:
        return FileResponse(STATIC / "login.html")

    async def login(request: Request) -> Response:
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))  # no multipart needed
        token = (form.get("token") or [""])[0]
        if not auth.allows(f"Bearer {token}"):
            return RedirectResponse("/login?wrong=1", status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    async def info(request: Request) -> Response:
        return JSONResponse({"source": state.source.name, "runs": len(state.index.ids()),
                             "version": state.index.version, "legend": legend(), "sortable": list(SORTABLE)})

    async def runs(request: Request) -> Response:
        q = request.query_params
        paging = _paging(q)
        if paging is None:
            return _error(400, "offset and limit are numbers")
        offset, limit = paging
        only = None
        text = q.get("q", "").strip()
        if text:
            try:
                found = await asyncio.to_thread(state.source.search, text)
            except Exception as e:
                return _error(400, f"search failed: {e}")
            only = found | {r for r in state.index.ids() if text.lower() in r.lower()}
        try:
            page = state.index.page(offset=offset, limit=limit, sort=q.get("sort", "started"),
                                    descending=q.get("desc", "1") != "0", status=q.get("status") or None,
                                    agent=q.get("agent") or None, service=q.get("service") or None,
                                    conversation=q.get("conversation") or None, only=only)
        except ValueError as e:
            return _error(400, str(e))
        return JSONResponse({"rows": page.rows, "total": page.total, "runs": page.runs, "version": page.version,
                             "facets": page.facets, "offset": offset, "limit": limit})

    async def conversations(request: Request) -> Response:
        paging = _paging(request.query_params)
        if paging is None:
            return _error(400, "offset and limit are numbers")
        offset, limit = paging
        rows, total = state.index.conversations(offset=offset, limit=limit)
        return JSONResponse({"rows": rows, "total": total, "offset": offset, "limit": limit})

    async def run(request: Request) -> Response:
        wanted = request.path_params["run"]
        run_id = state.resolve(wanted)
        if run_id is None:
            return _error(404, f"no run {wanted!r} (or more than one starts or ends so)")
        facts = await asyncio.to_thread(state.source.replay, run_id)
        if not facts:
            return _error(404, f"no facts of run {run_id} yet")
        doc = run_document(facts, [])
        doc["run"]["forks"] = state.index.forks_of(run_id)
        doc["row"] = state.index.get(run_id)
        after = request.query_params.get("after_seq")
        if after is not None and after.isdigit():
            doc["facts"] = [f for f in doc["facts"] if f["seq"] > int(after)]
            doc["conversation"] = [c for c in doc["conversation"] if c["seq"] > int(after)]
        return JSONResponse(doc)

    async def fact(request: Request) -> Response:
        run_id = state.resolve(request.path_params["run"])
        facts = await asyncio.to_thread(state.source.replay, run_id) if run_id else []
        found = fact_json(facts, request.path_params["seq"])
        return JSONResponse(found) if found is not None else _error(404, "no such fact")

    async def sql(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return _error(400, "give a query: ?q=SELECT ...")
        try:
            table, json_names = await asyncio.to_thread(state.source.sql, query)
        except Exception as e:  # duckdb.Error, QueryRefusedError, grpc.RpcError: shown as said
            message = e.details() if hasattr(e, "details") else str(e)
            return JSONResponse({"error": message})  # the request was fine; the query's answer is this message
        rows = table.slice(0, SQL_ROWS).to_pylist()
        for row in rows:
            for name in json_names & row.keys():
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
        answer = {"columns": table.column_names, "rows": [{k: _finite(v) for k, v in r.items()} for r in rows],
                  "total": table.num_rows}
        return Response(json.dumps(answer, ensure_ascii=False, default=str, allow_nan=False),
                        media_type="application/json")

    async def verify(request: Request) -> Response:
        wanted = request.query_params.get("run") or None
        run_id = state.resolve(wanted) if wanted else None
        if wanted and run_id is None:
            return _error(404, f"no run {wanted!r}")
        report = await asyncio.to_thread(state.source.verify, run_id)
        return JSONResponse(verify_words(report, run_id))

    async def events(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, list[str]]] = asyncio.Queue(maxsize=1024)
        overflowed = False

        def changed(version: int, runs: list[str]) -> None:
            def put() -> None:
                nonlocal overflowed
                if queue.full():
                    overflowed = True  # the page is told to reload what it shows
                else:
                    queue.put_nowait((version, runs))
            loop.call_soon_threadsafe(put)

        async def stream() -> AsyncIterator[str]:
            nonlocal overflowed
            unlisten = state.index.listen(changed)  # here: a client gone before streaming leaks nothing
            try:
                yield f"event: hello\ndata: {json.dumps({'version': state.index.version})}\n\n"
                while True:
                    try:
                        version, ids = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        yield ": still here\n\n"  # keeps proxies from closing an idle stream
                        continue
                    changed_runs = dict.fromkeys(ids)
                    while not queue.empty():  # coalesce a burst into one event
                        version, more = queue.get_nowait()
                        changed_runs.update(dict.fromkeys(more))
                    chosen = list(changed_runs)[:_EVENT_ROWS]
                    rows = [r for r in (state.index.get(i) for i in chosen) if r is not None]
                    data = {"version": version, "rows": rows, "more": overflowed or len(changed_runs) > _EVENT_ROWS}
                    overflowed = False
                    yield f"event: runs\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            finally:
                unlisten()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    class Guard(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            path = request.url.path
            if hosts is not None and (request.url.hostname or "") not in hosts:  # DNS rebinding
                return _error(421, f"this UI answers to {', '.join(sorted(hosts))}, not {request.url.hostname}")
            if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return _error(403, "requests from other sites are refused")  # another page's <img src=/api/...>
            open_path = path.startswith("/static/") or path == "/login" or path == "/favicon.ico"
            if tokens and not open_path:
                header = request.headers.get("authorization") or f"Bearer {request.cookies.get(COOKIE, '')}"
                if not auth.allows(header):
                    if path.startswith("/api/"):
                        return _error(401, "missing or wrong token: log in at /login")
                    return RedirectResponse("/login", status_code=303)
            try:
                response = await call_next(request)
            except ChatSnapshotError as e:
                response = _error(500, str(e))
            response.headers["Content-Security-Policy"] = _CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", index_page), Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/favicon.ico", favicon),
        Route("/api/info", info), Route("/api/runs", runs), Route("/api/conversations", conversations),
        Route("/api/runs/{run}", run),
        Route("/api/runs/{run}/facts/{seq:int}", fact), Route("/api/sql", sql), Route("/api/verify", verify),
        Route("/api/events", events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard)])


def _finite(value: Any) -> Any:
    """NaN and infinities as text: JSON has no such numbers (a browser refuses the answer)."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def verify_words(report: Any, run_id: str | None) -> dict[str, Any]:
    """A verify report as the page says it: ok or not, and why, in sentences."""
    what = f"run {run_id}" if run_id else "the ledger"
    if report.ok:
        words = (f"Every hash chain of {what} holds: {report.envelopes} envelope(s) in {report.correlations} "
                 "run(s) recomputed, and every file matches its checksum. This cannot show a run rewritten with "
                 "every hash recomputed: only a checkpoint kept elsewhere does (chatsnapshot verify --checkpoint).")
    else:
        words = (f"{what[0].upper() + what[1:]} does not verify: {len(report.breaks)} broken chain(s) and "
                 f"{len(report.problems)} file problem(s) in {report.envelopes} envelope(s) checked.")
    return {"ok": report.ok, "words": words, "envelopes": report.envelopes, "correlations": report.correlations,
            "breaks": [{"correlation_id": b.correlation_id, "seq": b.seq, "reason": b.reason} for b in report.breaks],
            "problems": [{"file": p.file, "reason": p.reason} for p in report.problems]}


"""Start-up problems told in one line: what is wrong and how to fix it, not a traceback."""

from __future__ import annotations

import errno
import re
import socket

import sqlalchemy as sa

from dispatch.storage import database

_URL_SETTING = "--database (or DISPATCH_DATABASE_URL)"


class StartupError(Exception):
    """Why the server cannot start, and what to do about it, in one line."""


def listen(host: str, port: int, setting: str = "--host/--port") -> list[socket.socket]:
    """Listening sockets on every address of host, bound before anything else happens.

    Binding first means a busy port is found before the database is touched or anything is
    printed; aiohttp then serves on these sockets as they are.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise StartupError(
            f"cannot listen on {host!r}: no such address here ({err.strerror}): give --host an address "
            "of this machine (127.0.0.1 for this machine only, 0.0.0.0 for all)"
        ) from err
    sockets: list[socket.socket] = []
    bound: set[tuple[int, str | int]] = set()
    try:
        for family, kind, protocol, _name, address in addresses:
            if (family, address[0]) in bound:
                continue
            bound.add((family, address[0]))
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            # As asyncio does: a restart may bind while the last run's connections linger in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port, *address[2:]))
            sock.listen(socket.SOMAXCONN)
            if port == 0:  # every address on the one port the first was given
                port = sock.getsockname()[1]
    except OSError as err:
        for sock in sockets:
            sock.close()
        problem = _bind_problem(host, port, err)
        if setting != "--host/--port":
            problem = f"{setting}: {problem.split(': ')[0]}: change {setting} in the config"
        raise StartupError(problem) from err
    return sockets


def _bind_problem(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another dispatch serve?): stop what holds it, "
            "or choose another port with --port (or DISPATCH_PORT)"
        )
    if err.errno == errno.EACCES:
        return (
            f"no permission to listen on port {port}: ports below 1024 need privileges; choose --port 1024 "
            "or above (e.g. 8080) and let a reverse proxy take the low port"
        )
    if err.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} is not an address of this machine: give --host one of its addresses "
            "(127.0.0.1 for this machine only, 0.0.0.0 for all)"
        )
    return f"cannot listen on {host} port {port}: {err.strerror}: check --host and --port"


def database_problem(url: str, err: sa.exc.DBAPIError) -> StartupError:
    """What a database error at start means for the operator, and the fix."""
    parsed = sa.engine.make_url(database.normalize_url(url))
    message = " ".join(str(err.orig if err.orig is not None else err).split())
    if parsed.get_backend_name() == "sqlite":
        return StartupError(
            f"cannot use the SQLite database {parsed.database!r}: {message}: check that its folder exists "
            f"and that this user may write there, or give another {_URL_SETTING}"
        )
    server = f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"
    user, name = parsed.username or "postgres", parsed.database or "postgres"
    client = f"-h {parsed.host or 'localhost'} -p {parsed.port or 5432}"
    if match := re.search(r'database "([^"]+)" does not exist', message):
        return StartupError(
            f'{server} has no database "{match[1]}": create it (createdb {client} -U postgres -O {user} '
            f"{match[1]}), or correct the name in {_URL_SETTING}"
        )
    if match := re.search(r'role "([^"]+)" does not exist', message):
        return StartupError(
            f'{server} has no role "{match[1]}": create it (createuser {client} -U postgres {match[1]}) and '
            f"make it the database's owner, or correct the user in {_URL_SETTING}"
        )
    if "password authentication failed" in message or "no password supplied" in message:
        return StartupError(
            f'{server} refused the password of role "{user}": correct the password in {_URL_SETTING}'
        )
    if "permission denied" in message:
        return StartupError(
            f'{server}: role "{user}" may not create the tables in database "{name}" ({message}): make it '
            f'the owner (ALTER DATABASE "{name}" OWNER TO "{user}", and of its schema public), or use the '
            "owner's role"
        )
    if match := re.search(
        r"Connection refused|Name or service not known|timeout expired|No route to host", message
    ):
        return StartupError(
            f"cannot reach {server} ({match[0].lower()}): start PostgreSQL, or correct the host and port in "
            f"{_URL_SETTING}"
        )
    return StartupError(f"cannot use the database {database.safe_url(url)}: {message}: check {_URL_SETTING}")

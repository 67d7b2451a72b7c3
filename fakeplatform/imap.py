"""A small IMAP4rev1 server (RFC 3501) on a loopback socket, for tests and the demo.

Enough of the protocol for a reply poller: CAPABILITY, LOGIN, SELECT/EXAMINE (with
UIDVALIDITY and UIDNEXT), UID SEARCH (ALL, UID <set>), UID FETCH (UID, RFC822, BODY[],
BODY.PEEK[], RFC822.SIZE), NOOP, LOGOUT. One INBOX per user. Test controls: append a message,
change UIDVALIDITY (the mailbox was rebuilt: every UID renumbered), and drop the connection
after N fetched messages (a crash mid-poll).

    python -m fakeplatform.imap --port 1143 --user sales@example.com --password secret
"""

import argparse
import contextlib
import re
import socketserver
import threading
from dataclasses import dataclass, field

ATOM = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


@dataclass
class Mailbox:
    password: str
    uidvalidity: int = 1
    next_uid: int = 1
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # (uid, raw), ascending


class ImapState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.drop_after_fetches: int | None = None  # messages served before the socket dies
        self.fetched = 0  # messages served in total (a test can see what was re-read)
        self.logins = 0

    def add_user(self, user: str, password: str, uidvalidity: int = 1) -> None:
        with self.lock:
            self.mailboxes[user.lower()] = Mailbox(password=password, uidvalidity=uidvalidity)

    def append(self, user: str, raw: bytes) -> int:
        with self.lock:
            box = self.mailboxes[user.lower()]
            uid = box.next_uid
            box.next_uid += 1
            box.messages.append((uid, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")))
            return uid

    def delete(self, user: str, uid: int) -> None:
        """Flag \\Deleted and EXPUNGE one message."""
        with self.lock:
            box = self.mailboxes[user.lower()]
            box.messages = [(u, raw) for u, raw in box.messages if u != uid]

    def renumber(self, user: str, uidvalidity: int) -> None:
        """The server rebuilt the mailbox: new UIDVALIDITY and UIDs from 1 (RFC 3501 2.3.1.1)."""
        with self.lock:
            box = self.mailboxes[user.lower()]
            box.uidvalidity = uidvalidity
            box.messages = [(i, raw) for i, (_, raw) in enumerate(box.messages, start=1)]
            box.next_uid = len(box.messages) + 1


def _uid_set(spec: str, largest: int) -> set[int]:
    """RFC 3501 sequence set over UIDs; `*` is the largest UID in use, so `n:*` always
    includes it, even when it is below n."""
    uids: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition(":")
        a = largest if lo == "*" else int(lo)
        b = a if not hi else (largest if hi == "*" else int(hi))
        uids.update(range(min(a, b), max(a, b) + 1))
    return uids


class _Dropped(Exception):
    pass


class _Handler(socketserver.StreamRequestHandler):
    server: "ImapServer"

    def send(self, line: bytes | str) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def handle(self) -> None:
        state = self.server.state
        self.user: str | None = None
        self.selected: Mailbox | None = None
        self.send("* OK [CAPABILITY IMAP4rev1] fake IMAP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            args = [a or b for a, b in ATOM.findall(line.rstrip(b"\r\n"))]
            args = [re.sub(rb"\\(.)", rb"\1", a).decode() for a in args]
            if len(args) < 2:
                self.send("* BAD missing tag or command")
                continue
            tag, command, rest = args[0], args[1].upper(), args[2:]
            try:
                if self.dispatch(state, tag, command, rest) == "bye":
                    return
            except _Dropped:
                return  # the connection dies mid-response, as in a network failure
            except (ValueError, IndexError) as exc:
                self.send(f"{tag} BAD {exc}")

    def dispatch(self, state: ImapState, tag: str, command: str, rest: list[str]) -> str:
        if command == "CAPABILITY":
            self.send("* CAPABILITY IMAP4rev1")
        elif command == "NOOP":
            pass
        elif command == "LOGOUT":
            self.send("* BYE logging out")
            self.send(f"{tag} OK LOGOUT completed")
            return "bye"
        elif command == "LOGIN":
            user, password = rest[0].lower(), rest[1]
            with state.lock:
                box = state.mailboxes.get(user)
                ok = box is not None and box.password == password
                state.logins += ok
            if not ok:
                self.send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
                return ""
            self.user = user
        elif self.user is None:
            self.send(f"{tag} BAD log in first")
            return ""
        elif command in ("SELECT", "EXAMINE"):
            if rest[0].upper() != "INBOX":
                self.send(f"{tag} NO [NONEXISTENT] no such mailbox")
                return ""
            with state.lock:
                box = self.selected = state.mailboxes[self.user]
                self.send(f"* {len(box.messages)} EXISTS")
                self.send("* 0 RECENT")
                self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
                self.send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
                self.send(f"* OK [UIDNEXT {box.next_uid}] predicted next UID")
            mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
            self.send(f"{tag} OK [{mode}] {command} completed")
        elif command == "UID" and self.selected is not None:
            self.uid(state, tag, rest[0].upper(), rest[1:])
        else:
            self.send(f"{tag} BAD unsupported command {command}")
        if command not in ("UID", "SELECT", "EXAMINE"):
            self.send(f"{tag} OK {command} completed")
        return ""

    def uid(self, state: ImapState, tag: str, command: str, rest: list[str]) -> None:
        assert self.selected is not None
        with state.lock:
            messages = list(self.selected.messages)
        largest = messages[-1][0] if messages else 0
        seq = {uid: n for n, (uid, _) in enumerate(messages, start=1)}
        if command == "SEARCH":
            criteria = [r.upper() for r in rest]
            if criteria == ["ALL"]:
                found = [uid for uid, _ in messages]
            elif len(criteria) == 2 and criteria[0] == "UID":
                wanted = _uid_set(criteria[1], largest)
                found = [uid for uid, _ in messages if uid in wanted]
            else:
                self.send(f"{tag} BAD unsupported search {' '.join(rest)}")
                return
            self.send("* SEARCH" + "".join(f" {u}" for u in found))
        elif command == "FETCH":
            wanted = _uid_set(rest[0], largest)
            items = " ".join(rest[1:]).strip("()").upper()
            for uid, raw in messages:
                if uid not in wanted:
                    continue
                with state.lock:
                    if state.drop_after_fetches is not None and state.drop_after_fetches <= 0:
                        state.drop_after_fetches = None
                        raise _Dropped
                    if state.drop_after_fetches is not None:
                        state.drop_after_fetches -= 1
                    state.fetched += 1
                parts = [f"UID {uid}"]
                if "RFC822.SIZE" in items:
                    parts.append(f"RFC822.SIZE {len(raw)}")
                name = next((n for n in ("BODY.PEEK[]", "BODY[]", "RFC822") if n in items), "")
                if not name:
                    self.send(f"* {seq[uid]} FETCH ({' '.join(parts)})")
                    continue
                name = "BODY[]" if name.startswith("BODY") else "RFC822"
                head = f"* {seq[uid]} FETCH ({' '.join(parts)} {name} {{{len(raw)}}}"
                self.wfile.write(head.encode() + b"\r\n" + raw + b")\r\n")
        else:
            self.send(f"{tag} BAD unsupported UID {command}")
            return
        self.send(f"{tag} OK UID {command} completed")


class ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _Handler)
        self.state = ImapState()
        self.host, self.port = str(self.server_address[0]), int(self.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> "ImapServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a small fake IMAP4rev1 server.")
    parser.add_argument("--port", type=int, default=1143)
    parser.add_argument("--user", action="append", default=[], help="user (repeatable)")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args()
    server = ImapServer(port=args.port)
    for user in args.user:
        server.state.add_user(user, args.password)
    print(f"fake IMAP listening on {server.host}:{server.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()

"""A small SMTP server (RFC 5321) on a loopback socket, so the email channel's real path
(Django's SMTP backend, smtplib, a socket) can be tested without a mail server.

Enough of the protocol for smtplib: EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing),
RSET, NOOP, QUIT. No TLS, no AUTH. Every accepted message is kept raw in `received`;
`answers` scripts refusals.
"""

import socketserver
import threading
from dataclasses import dataclass


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


class _Handler(socketserver.StreamRequestHandler):
    server: "SmtpServer"

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 localhost test SMTP ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-localhost" if verb == "EHLO" else "250 localhost")
                if verb == "EHLO":
                    self.reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, recipients = command.partition(":")[2].strip(" <>"), []
                self.reply(self.server.answers.get("MAIL", "250 OK"))
            elif verb == "RCPT":
                recipient = command.partition(":")[2].strip(" <>")
                refusal = self.server.refuse.get(recipient.lower())
                if refusal:
                    self.reply(refusal)
                    continue
                recipients.append(recipient)
                self.reply(self.server.answers.get("RCPT", "250 OK"))
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                answer = self.server.answers.get("DATA", "250 OK queued")
                if not answer:
                    return  # hang up after the message: did it arrive?
                if answer.startswith("2"):
                    with self.server.lock:
                        self.server.received.append(Received(sender, recipients, b"".join(lines)))
                self.reply(answer)
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received: list[Received] = []
        # Scripted answers instead of 250: {"MAIL"|"RCPT"|"DATA": "550 5.7.1 …"}; "DATA": ""
        # hangs up once the message was sent.
        self.answers: dict[str, str] = {}
        # Per-recipient answers to RCPT: {"gone@example.com": "550 5.1.1 User unknown"}.
        self.refuse: dict[str, str] = {}

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> "SmtpServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

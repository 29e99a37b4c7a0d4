"""The emails Plaza sent, as a user's mailbox would show them.

In the embedded default emails leave on a background thread after the answer
(plaza.core.tasks.queue_after_answer), which reads the database on a connection of its own:
a test that sends email commits for real (`EMAILS`), and waits for that thread before it
reads what was sent, or asserts that nothing was. SlowSMTPServer is a real mail server on
loopback that takes its time.
"""

import socketserver
import threading
import time

import pytest
from django.core import mail

from plaza.core.background import answer_thread

# For tests that send email: the background thread sees only committed rows.
EMAILS = pytest.mark.django_db(transaction=True)


def sent_emails() -> list[mail.EmailMessage]:
    """Every email sent so far in this test (Django's test outbox), once none is pending."""
    assert answer_thread.wait_until_idle(timeout=30), "emails still being sent after 30 s"
    outbox: list[mail.EmailMessage] = mail.outbox
    return outbox


class SlowSMTPHandler(socketserver.StreamRequestHandler):
    """Speaks just enough SMTP for smtplib to deliver a message, and takes
    `server.delay` seconds to accept each one, as a busy mail server does."""

    server: "SlowSMTPServer"

    def handle(self) -> None:
        self.reply("220 slow.test ESMTP")
        while line := self.rfile.readline():
            command = line.decode("latin-1").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 slow.test")
            elif command == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                message = b"".join(iter(self._data_line, None))
                time.sleep(self.server.delay)
                self.server.messages.append(message)
                self.reply("250 queued")
            elif command == "QUIT":
                self.reply("221 bye")
                return
            else:  # MAIL FROM, RCPT TO, RSET, NOOP
                self.reply("250 ok")

    def _data_line(self) -> bytes | None:
        line = self.rfile.readline()
        return None if line in (b".\r\n", b"") else line

    def reply(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())


class SlowSMTPServer(socketserver.ThreadingTCPServer):
    """A local mail server on a free loopback port: `with SlowSMTPServer(0.3) as smtp:`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), SlowSMTPHandler)
        self.delay = delay
        self.messages: list[bytes] = []
        self.port: int = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> "SlowSMTPServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()

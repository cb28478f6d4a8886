"""A real SMTP server (aiosmtpd) for the mail adapter's tests.

Every message it accepts is written whole (a temporary name, then a rename) as a file in DIR. It can answer RCPT
with a given reply instead of accepting (a permanent 550 or a temporary 451), require AUTH with one user, and speak
TLS (STARTTLS, or TLS from the start) with the certificate in fixtures/. It runs until it is killed.
"""

import argparse
import logging
import os
import ssl
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, directory, rcpt_reply):
        self.directory = directory
        self.rcpt_reply = rcpt_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}-{os.getpid()}.eml"
        partial = os.path.join(self.directory, "." + name)
        with open(partial, "wb") as file:
            file.write(envelope.original_content)
        os.rename(partial, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        accepted = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # Not `handled`: aiosmtpd then answers a refusal with 535 itself (by default it would say nothing).
        return AuthResult(success=accepted, handled=False)

    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rcpt-reply", help='answer every RCPT with this, e.g. "550 5.1.1 No such user"')
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH (PLAIN or LOGIN) as this user")
    parser.add_argument("--tls", choices=["starttls", "implicit"], help="require STARTTLS, or speak TLS at once")
    args = parser.parse_args()
    # AUTH without TLS is what the tests exercise, on loopback only: aiosmtpd's warnings about it are noise there.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    options = {}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options = dict(authenticator=authenticator(user, password), auth_required=True, auth_require_tls=False)
    if args.tls:
        fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(os.path.join(fixtures, "server.pem"), os.path.join(fixtures, "server.key"))
        if args.tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        else:
            options.update(ssl_context=context)
    controller = Controller(Handler(args.dir, args.rcpt_reply), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""pyftpdlib server for ftptrace samples.

usage: pyftpd_server.py ADDR PORT ALICE_HOME ANON_HOME
user alice / wonderland: full permissions; anonymous: read-only.
"""
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    addr, port, alice_home, anon_home = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG,
                        format="%(asctime)s %(levelname)s %(message)s")
    auth = DummyAuthorizer()
    auth.add_user("alice", "wonderland", alice_home, perm="elradfmwMT")
    auth.add_anonymous(anon_home)
    handler = FTPHandler
    handler.authorizer = auth
    handler.banner = "ftptrace pyftpdlib test server ready."
    handler.passive_ports = range(41000, 41100)
    handler.permit_foreign_addresses = False
    handler.auth_failed_timeout = 1
    server = FTPServer((addr, port), handler)
    server.serve_forever()


if __name__ == "__main__":
    main()

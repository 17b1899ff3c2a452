"""A free TCP port on 127.0.0.1, for the servers the tests start."""

import socket


def free_port():
    """A port nothing listens on now (the OS picks it; a server started right
    after may take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

"""The test set-up's own guard: nothing in the suite reaches off the machine."""
import socket

import pytest

from tests import network_guard


def test_looking_up_an_outside_name_is_refused_and_recorded():
    with pytest.raises(OSError):
        socket.getaddrinfo("example.org", 80)
    assert network_guard.take_attempts() == ["DNS lookup of 'example.org'"]


def test_connecting_to_an_outside_address_is_refused_and_recorded():
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("192.0.2.1", 80))
    assert network_guard.take_attempts() == ["connection to ('192.0.2.1', 80)"]


@pytest.mark.parametrize("host", ["localhost", "blog.localhost", "127.0.0.1", "::1", "0.0.0.0", None])
def test_this_machine_is_allowed(host):
    assert network_guard.host_is_local(host)
    socket.getaddrinfo("localhost", 80)
    assert network_guard.take_attempts() == []

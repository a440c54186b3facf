"""The SSRF guard on sites' cron URLs: refused when set and again at call time, and the call goes to
the address that was checked. Names resolve through a stub resolver, never the DNS; the suite's
socket guard (tests/network_guard.py) fails any test that connects beyond loopback, and these tests
also count every connection attempt themselves."""
import os
import socket
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from farm.cron.models import RunStatus, ScheduledTask, TaskRun
from instances import url_guard
from instances.site_cron import TASK_NAME, instance_cron_url_set
from instances.url_guard import UrlRefused, url_redacted
from tests.cron_server import cron_server
from tests.factories import make_instance
from tests.integration.instances.test_site_cron import tick_and_call

pytestmark = pytest.mark.django_db(transaction=True)
PUBLIC = "93.184.216.34"  # an example.org address: data here, never dialled


@pytest.fixture
def resolver(monkeypatch):
    """A stub resolver: answers[host] is a list of address lists, used in turn (the last one repeats)."""
    stub = SimpleNamespace(answers={}, lookups=[])

    def lookup(host, port):
        stub.lookups.append(host)
        if host not in stub.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        turns = stub.answers[host]
        return turns.pop(0) if len(turns) > 1 else turns[0]

    monkeypatch.setattr(url_guard, "lookup", lookup)
    return stub


@pytest.fixture
def connections(monkeypatch):
    """Every address a socket of this process tries to connect to, but the database's and Redis's (the
    socket guard still applies)."""
    seen, real = [], socket.socket.connect
    services = {urlsplit(os.environ.get(name, default)).port for name, default in (
        ("DATABASE_URL", "postgres://127.0.0.1:5432/"), ("REDIS_URL", "redis://127.0.0.1:6379/"))}

    def connect(sock, address):
        if not (isinstance(address, tuple) and address[1] in services):
            seen.append(address[0] if isinstance(address, tuple) else address)
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.fixture
def no_allow_list(settings):
    settings.FARM_CRON_URL_ALLOW = []


REFUSED = [
    ("http://10.0.0.1/spip.php?action=cron", "private"), ("http://172.16.5.4/", "private"),
    ("http://192.168.1.10/wp-cron.php", "private"), ("http://100.64.0.1/", "private"),
    ("http://0.0.0.0/", "private"), ("http://127.0.0.1:8000/cron", "loopback"), ("http://[::1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"), ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"), ("http://100.100.100.200/", "metadata"),
    ("http://168.63.129.16/", "metadata"), ("http://169.254.10.1/", "link-local"), ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.251/", "multicast"), ("http://[ff02::1]/", "multicast"),
    # IPv6 forms that lead to an IPv4 address: compatible, translated, NAT64, 6to4; site-local
    ("http://[::127.0.0.1]/", "loopback"), ("http://[::ffff:0:a00:1]/", "private"),
    ("http://[64:ff9b::a9fe:a9fe]/", "metadata"), ("http://[2002:a9fe:a9fe::]/", "metadata"),
    ("http://[fec0::1]/", "private"),
    ("http://１２７.０.０.１/", "loopback"),  # full-width digits: the address the client would connect to
]


@pytest.mark.parametrize("url,kind", REFUSED)
def test_addresses_that_are_not_public_are_refused_when_set(url, kind, no_allow_list, resolver, connections):
    site = make_instance(state="publie")
    with pytest.raises(UrlRefused, match=kind):
        instance_cron_url_set(instance=site, url=url)
    site.refresh_from_db()
    assert site.cron_url == "" and not ScheduledTask.objects.filter(instance=site, name=TASK_NAME).exists()
    assert connections == [] and resolver.lookups == []  # an address is checked, not looked up


@pytest.mark.parametrize("addresses", [["10.1.2.3"], [PUBLIC, "10.0.0.1"], ["::1"], ["169.254.169.254"]])
def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(addresses, no_allow_list, resolver, connections):
    resolver.answers["cron.example.org"] = [addresses]
    site = make_instance(state="publie")
    with pytest.raises(UrlRefused, match="cron.example.org is"):
        instance_cron_url_set(instance=site, url="https://cron.example.org/cron/KEY")
    assert connections == []


@pytest.mark.parametrize("url", ["ftp://www.example.org/cron", "file:///etc/passwd", "gopher://example.org/",
                                 "javascript:alert(1)", "www.example.org/cron", "http://", "http://exa mple.org/",
                                 "http://example.org:99999/"])
def test_only_http_and_https_urls_with_a_host_are_accepted(url, resolver):
    site = make_instance(state="publie")
    with pytest.raises(UrlRefused):
        instance_cron_url_set(instance=site, url=url)


def test_a_malformed_name_is_refused_with_a_message_not_an_error(monkeypatch):
    def lookup(host, port):
        raise UnicodeError("label empty or too long")  # what getaddrinfo raises for a..b

    monkeypatch.setattr(url_guard, "lookup", lookup)
    with pytest.raises(UrlRefused, match="does not resolve"):
        instance_cron_url_set(instance=make_instance(state="publie"), url="http://a..b/cron")


def test_a_name_that_does_not_resolve_is_refused_with_a_message(resolver):
    with pytest.raises(UrlRefused, match="does not resolve"):
        instance_cron_url_set(instance=make_instance("nxdomain", state="publie"), url="https://nowhere.example.org/")


def test_loopback_is_allowed_only_through_the_setting(settings, resolver):
    site = make_instance("local-cron", state="publie")
    settings.FARM_CRON_URL_ALLOW = ["127.0.0.0/8"]
    instance_cron_url_set(instance=site, url="http://127.0.0.5:8080/cron")
    settings.FARM_CRON_URL_ALLOW = []
    with pytest.raises(UrlRefused, match="loopback"):
        instance_cron_url_set(instance=site, url="http://127.0.0.6:8080/cron")


def test_a_name_rebound_to_a_metadata_address_after_it_was_set_is_refused_at_call_time_without_connecting(
        no_allow_list, resolver, connections):
    resolver.answers["rebind.example.org"] = [[PUBLIC], ["169.254.169.254"]]
    site = make_instance("rebound", state="publie")
    instance_cron_url_set(instance=site, url="http://rebind.example.org/spip.php?action=cron")  # public then
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)

    tick_and_call(task.next_run_at)

    run = TaskRun.objects.get(task=task)
    assert run.status == RunStatus.FAILED and run.attempt == 1  # a refusal is not retried
    assert run.error.startswith("refused: rebind.example.org is 169.254.169.254, a cloud metadata address")
    assert resolver.lookups == ["rebind.example.org", "rebind.example.org"]
    assert connections == []


def test_the_call_connects_to_the_address_it_checked_and_looks_the_name_up_once(resolver, connections):
    with cron_server("127.0.0.1") as server:
        port = server.server_address[1]
        # Checked at call time: 127.0.0.1 (allowed in the tests); any later lookup would say 10.9.9.9.
        resolver.answers["cron.example.org"] = [["127.0.0.1"], ["127.0.0.1"], ["10.9.9.9"]]
        site = make_instance("pinned", state="publie")
        instance_cron_url_set(instance=site, url=f"http://cron.example.org:{port}/redirect-same")
        task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
        connections.clear()

        tick_and_call(task.next_run_at + timedelta(seconds=1))

        run = TaskRun.objects.get(task=task)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert [c["host"] for c in server.calls] == [f"cron.example.org:{port}"] * 2  # the redirect, then /ok
        assert set(connections) == {"127.0.0.1"}
        assert len(resolver.lookups) == 2  # set time, then once for the call (its redirect reuses the connection)


def test_a_password_in_the_url_is_never_shown_back(client, settings, resolver):
    resolver.answers["secret.example.org"] = [[PUBLIC]]
    site = make_instance("secret-cron", state="publie")
    instance_cron_url_set(instance=site, url="https://cron:s3cret@secret.example.org/cron")
    assert url_redacted(site.__class__.objects.get(pk=site.pk).cron_url) == "https://cron:***@secret.example.org/cron"
    client.force_login(site.owner)
    page = client.get("/settings/", HTTP_HOST="secret-cron.localhost").content.decode()
    assert "s3cret" not in page and "https://cron:***@secret.example.org/cron" in page
    form = {"timezone": "UTC", "ip_mask_bytes": "2", "cron_every": "5"}
    # Sent back as shown, or with another path: the password stays the stored one.
    for url in ("https://cron:***@secret.example.org/cron", "https://cron:***@secret.example.org/other"):
        assert client.post("/settings/", {**form, "cron_url": url}, HTTP_HOST="secret-cron.localhost").status_code == 302
        assert site.__class__.objects.get(pk=site.pk).cron_url == url.replace("***", "s3cret")

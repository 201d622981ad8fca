"""The official SDK over HTTPS: `opendlc serve --tls-cert --tls-key` with a certificate made
here (a CA and a server certificate it signed), and clients configured as a user would:
`protocol="https"` and the CA file in the SDK's `ca` option.

Create, get, list, logs and stop, the links the server hands out, and clients that do not
trust the certificate or speak plain HTTP to the HTTPS port."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from alibabacloud_pai_dlc20201203 import models as M
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers import (Server, get_job, job_request, make_client, pod_logs, spec, stop_unfinished,
                     unique_name, wait_for_status)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def write_certificates(directory) -> tuple[str, str, str]:
    """A CA, and a certificate for 127.0.0.1 and localhost it signed; (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder()
          .subject_name(_name("opendlc test CA")).issuer_name(_name("opendlc test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return tuple(str(p) for p in paths)


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("https")
    ca, cert, key = write_certificates(directory)
    srv = Server(directory / "data", name="https", args=["--tls-cert", cert, "--tls-key", key])
    srv.ca = ca
    srv.start()
    yield srv
    try:
        client = make_client(srv.endpoint, protocol="https", ca=ca)
        ids = [j.job_id for j in client.list_jobs(M.ListJobsRequest(page_size=100)).body.jobs]
        stop_unfinished(client, ids)
    except Exception:  # noqa: BLE001 - teardown must not mask the tests' results
        pass
    srv.stop()


@pytest.fixture(scope="module")
def https_client(https_server):
    return make_client(https_server.endpoint, protocol="https", ca=https_server.ca)


def test_the_banner_names_an_https_address(https_server):
    assert any(f"https://{https_server.endpoint}" in line for line in https_server.stdout_lines)


def test_create_get_list_and_logs_over_https(https_client):
    request = job_request(unique_name("https"), "echo over-tls", [spec("Worker", 1)])
    job_id = https_client.create_job(request).body.job_id
    job = wait_for_status(https_client, job_id, "Succeeded", timeout=60)
    assert job.job_id == job_id
    listed = https_client.list_jobs(M.ListJobsRequest(display_name=request.display_name)).body
    assert [j.job_id for j in listed.jobs] == [job_id]
    assert "over-tls" in pod_logs(https_client, job_id, f"{job_id}-worker-0")


def test_stop_and_the_links_handed_out_over_https(https_server, https_client):
    request = job_request(unique_name("https-stop"), "sleep 60", [spec("Worker", 1)])
    job_id = https_client.create_job(request).body.job_id
    wait_for_status(https_client, job_id, "Running", timeout=60)
    pod_id = f"{job_id}-worker-0"
    terminal = https_client.get_web_terminal(job_id, pod_id, M.GetWebTerminalRequest()).body
    assert terminal.web_terminal_url.startswith(f"wss://{https_server.endpoint}/"), terminal
    dashboard = https_client.get_dashboard(job_id, M.GetDashboardRequest()).body
    assert dashboard.url.startswith(f"https://{https_server.endpoint}/"), dashboard
    https_client.stop_job(job_id)
    assert get_job(https_client, job_id).status in ("Stopping", "Stopped")
    wait_for_status(https_client, job_id, "Stopped", timeout=30)


def test_a_client_that_does_not_trust_the_certificate_is_refused(https_server):
    # Through "localhost" (also on the certificate): the SDK keeps connections open per host,
    # and one already verified with the CA would be reused.
    untrusting = make_client(https_server.endpoint.replace("127.0.0.1", "localhost"),
                             protocol="https")
    with pytest.raises(Exception) as raised:
        untrusting.list_jobs(M.ListJobsRequest())
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value), raised.value


def test_plain_http_to_the_https_port_fails(https_server):
    plain = make_client(https_server.endpoint, protocol="http")
    with pytest.raises(Exception) as raised:
        plain.list_jobs(M.ListJobsRequest())
    assert "https" in str(raised.value).lower(), raised.value

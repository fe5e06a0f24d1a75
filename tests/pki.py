"""A test certificate authority: root → intermediate → server certificate, made fresh for each run.

Clients trust the root only, so a server that does not send the intermediate fails verification as
a Windows client would: the tests prove the whole chain is served, not just the leaf.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class ServerCertificates:
    ca_file: Path  # the root certificate: what clients trust (curl --cacert)
    cert_file: Path  # the server certificate followed by the intermediate (fullchain.pem)
    key_file: Path  # the server's private key (privkey.pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, subject_key, issuer, issuer_key, *, ca: bool, names: list[str] | None = None):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        alt_names: list[x509.GeneralName] = []
        for name in names or []:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_test_ca(directory: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1")) -> ServerCertificates:
    """Write ca.pem, fullchain.pem and privkey.pem (0600) into `directory` for a server called `names`."""
    directory.mkdir(parents=True, exist_ok=True)
    root_key, intermediate_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name, intermediate_name = _name("Presence Heartbeat Test Root CA"), _name("Presence Heartbeat Test Issuing CA")
    root = _certificate(root_name, root_key, root_name, root_key, ca=True)
    intermediate = _certificate(intermediate_name, intermediate_key, root_name, root_key, ca=True)
    server = _certificate(_name(names[0]), server_key, intermediate_name, intermediate_key, ca=False, names=list(names))
    pem = serialization.Encoding.PEM
    ca = ServerCertificates(directory / "ca.pem", directory / "fullchain.pem", directory / "privkey.pem")
    ca.ca_file.write_bytes(root.public_bytes(pem))
    ca.cert_file.write_bytes(server.public_bytes(pem) + intermediate.public_bytes(pem))
    ca.key_file.touch(mode=0o600)
    ca.key_file.write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca

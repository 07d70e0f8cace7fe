"""IANA registries for IKEv1 / ISAKMP (RFC 2407, 2408, 2409, 3706, 3947).

Registry: https://www.iana.org/assignments/isakmp-registry/isakmp-registry.xhtml
and https://www.iana.org/assignments/ipsec-registry/ipsec-registry.xhtml
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

ISAKMP_REGISTRY = "https://www.iana.org/assignments/isakmp-registry/isakmp-registry.xhtml"
IPSEC_REGISTRY = "https://www.iana.org/assignments/ipsec-registry/ipsec-registry.xhtml"

IKE_PORT = 500
NATT_PORT = 4500
ISAKMP_VERSION = 0x10  # major 1, minor 0 (RFC 2408 §3.1)


class ExchangeType(IntEnum):
    """RFC 2408 §3.1 / RFC 2409 §5 exchange types (ISAKMP_REGISTRY)."""

    NONE = 0
    BASE = 1
    IDENTITY_PROTECTION = 2  # Main Mode
    AUTHENTICATION_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6  # Mode Config
    QUICK_MODE = 32
    NEW_GROUP_MODE = 33


class PayloadType(IntEnum):
    """RFC 2408 §3.1 next-payload values, RFC 3947 §3.2/§5.2 NAT-D/NAT-OA."""

    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CERTREQ = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFICATION = 11
    DELETE = 12
    VENDOR_ID = 13
    SAK = 15
    NAT_D = 20
    NAT_OA = 21
    NAT_D_DRAFT = 130  # draft-ietf-ipsec-nat-t-ike-02/03
    NAT_OA_DRAFT = 131


class Flags(IntEnum):
    """RFC 2408 §3.1 header flags."""

    ENCRYPTION = 0x01
    COMMIT = 0x02
    AUTH_ONLY = 0x04


class Doi(IntEnum):
    """RFC 2408 §3.4 / RFC 2407 §4.2."""

    ISAKMP = 0
    IPSEC = 1


class Situation(IntEnum):
    """RFC 2407 §4.2.1 (bit mask)."""

    IDENTITY_ONLY = 0x01
    SECRECY = 0x02
    INTEGRITY = 0x04


class ProtocolId(IntEnum):
    """RFC 2407 §4.4.1."""

    ISAKMP = 1
    IPSEC_AH = 2
    IPSEC_ESP = 3
    IPCOMP = 4


class IkeTransformId(IntEnum):
    """RFC 2407 §4.4.2."""

    KEY_IKE = 1


class AhTransformId(IntEnum):
    """RFC 2407 §4.4.3 (IPSEC_REGISTRY "IPsec AH Transform Identifiers")."""

    MD5 = 2
    SHA = 3
    DES = 4
    SHA2_256 = 5
    SHA2_384 = 6
    SHA2_512 = 7


class EspTransformId(IntEnum):
    """RFC 2407 §4.4.4 (IPSEC_REGISTRY "IPsec ESP Transform Identifiers")."""

    DES_IV64 = 1
    DES = 2
    TRIPLE_DES = 3
    RC5 = 4
    IDEA = 5
    CAST = 6
    BLOWFISH = 7
    THREE_IDEA = 8
    DES_IV32 = 9
    RC4 = 10
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_CCM_8 = 14
    AES_CCM_12 = 15
    AES_CCM_16 = 16
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20


class IkeAttr(IntEnum):
    """RFC 2409 Appendix A: Phase 1 attribute classes."""

    ENCRYPTION = 1
    HASH = 2
    AUTH_METHOD = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    GROUP_PRIME = 6
    GROUP_GEN_ONE = 7
    GROUP_GEN_TWO = 8
    GROUP_CURVE_A = 9
    GROUP_CURVE_B = 10
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14
    FIELD_SIZE = 15
    GROUP_ORDER = 16


class IkeEncryption(IntEnum):
    """RFC 2409 Appendix A "Encryption Algorithm" values (+ RFC 3602 AES)."""

    DES_CBC = 1
    IDEA_CBC = 2
    BLOWFISH_CBC = 3
    RC5_CBC = 4
    TRIPLE_DES_CBC = 5
    CAST_CBC = 6
    AES_CBC = 7


class IkeHash(IntEnum):
    """RFC 2409 Appendix A "Hash Algorithm" values (+ RFC 4868 SHA-2)."""

    MD5 = 1
    SHA = 2
    TIGER = 3
    SHA2_256 = 4
    SHA2_384 = 5
    SHA2_512 = 6


class AuthMethod(IntEnum):
    """RFC 2409 Appendix A "Authentication Method" values."""

    PSK = 1
    DSS_SIG = 2
    RSA_SIG = 3
    RSA_ENC = 4
    RSA_REV_ENC = 5
    XAUTH_INIT_PSK = 65001


class LifeType(IntEnum):
    """RFC 2409 Appendix A / RFC 2407 §4.5 "SA Life Type"."""

    SECONDS = 1
    KILOBYTES = 2


class IpsecAttr(IntEnum):
    """RFC 2407 §4.5 IPsec SA attribute classes."""

    SA_LIFE_TYPE = 1
    SA_LIFE_DURATION = 2
    GROUP_DESCRIPTION = 3
    ENCAPSULATION_MODE = 4
    AUTH_ALGORITHM = 5
    KEY_LENGTH = 6
    KEY_ROUNDS = 7
    COMPRESS_DICT_SIZE = 8
    COMPRESS_PRIVATE_ALG = 9


class EncapsulationMode(IntEnum):
    """RFC 2407 §4.5, RFC 3947 §5.1 and the draft values (61443/61444)."""

    TUNNEL = 1
    TRANSPORT = 2
    UDP_TUNNEL = 3
    UDP_TRANSPORT = 4
    UDP_TUNNEL_DRAFT = 61443
    UDP_TRANSPORT_DRAFT = 61444


class IpsecAuthAlgorithm(IntEnum):
    """RFC 2407 §4.5 "Authentication Algorithm" (+ RFC 4868)."""

    HMAC_MD5 = 1
    HMAC_SHA = 2
    DES_MAC = 3
    KPDK = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7


class IdType(IntEnum):
    """RFC 2407 §4.6.2.1 identification types."""

    IPV4_ADDR = 1
    FQDN = 2
    USER_FQDN = 3
    IPV4_ADDR_SUBNET = 4
    IPV6_ADDR = 5
    IPV6_ADDR_SUBNET = 6
    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8
    DER_ASN1_DN = 9
    DER_ASN1_GN = 10
    KEY_ID = 11


class NotifyType(IntEnum):
    """RFC 2408 §3.14.1 errors, RFC 2407 §4.6.3 status, RFC 3706 DPD."""

    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384  # RFC 2408 §3.14.1 status
    RESPONDER_LIFETIME = 24576  # RFC 2407 §4.6.3.1
    REPLAY_STATUS = 24577  # RFC 2407 §4.6.3.2
    INITIAL_CONTACT = 24578  # RFC 2407 §4.6.3.3
    R_U_THERE = 36136  # RFC 3706 §5
    R_U_THERE_ACK = 36137  # RFC 3706 §5


def _md5(text: bytes) -> bytes:
    return hashlib.md5(text).digest()


class VendorIds:
    """Well-known vendor ID payload contents."""

    # RFC 3706 §5: 16 bytes, the last two are major/minor version 1.0.
    DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")
    # RFC 3947 §3.1: MD5("RFC 3947").
    NATT_RFC3947 = _md5(b"RFC 3947")
    # draft-ietf-ipsec-nat-t-ike-02 (with and without the trailing newline), -03.
    NATT_DRAFT_02 = _md5(b"draft-ietf-ipsec-nat-t-ike-02")
    NATT_DRAFT_02N = _md5(b"draft-ietf-ipsec-nat-t-ike-02\n")
    NATT_DRAFT_03 = _md5(b"draft-ietf-ipsec-nat-t-ike-03")
    # Cisco Unity (sent by IOS), XAUTH (draft-ietf-ipsra-isakmp-xauth-06).
    CISCO_UNITY = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")
    XAUTH = bytes.fromhex("09002689dfd6b712")

    NATT_DRAFTS = (NATT_DRAFT_02, NATT_DRAFT_02N, NATT_DRAFT_03)

"""AR570S counter screens (seed 002 part C §8.1-8.3, §9.1-9.8) from the engine's per-flow counts.

The engine counts per SA bundle: packets out and in, ICV and replay failures.
Those fill the counters the samples name; counters for events the engine
never has (buffer chain copies, compression, ...) print 0, as on a quiet device.
"""

from __future__ import annotations

from typing import Any

from engine.config.ar_model import ArIpsecPolicy
from engine.config.model import Config
from engine.show.ar import Out, ShowError, ipsec_sas
from engine.show.views import ShowState


def policy_counters(cfg: Config, state: ShowState, pols: list[ArIpsecPolicy]) -> Out:
    """SHOW IPSEC POLICY=x COUNTERS (L5467-5514): the counters the engine keeps."""
    data: dict[str, Any] = {}
    text: list[str] = []
    sas = ipsec_sas(cfg, state)
    for p in pols:
        mine = [r for r in sas if r["policy"] == p.name]
        flows = {id(r["flow"]): r["flow"] for r in mine}
        # one processing run per SA of the bundle (L5487-5505: 2058 = 2 SAs x 1029 packets)
        out = sum(r["flow"].counters.encaps for r in mine)
        inn = sum(r["flow"].counters.decaps for r in mine)
        fails = sum(r["flow"].counters.recv_errors for r in mine)
        c = {"setupStarted": len(flows), "setupSaSetupStarted": len(mine),
             "setupDone": len(flows), "outProcessStart": out, "outProcessDone": out,
             "inProcessStart": inn + fails, "inProcessFail": fails,
             "inProcessDone": inn}  # fmt: skip
        data[p.name] = c
        if len(pols) > 1:
            text.append(f"Policy ..........{p.name}")
        text += [
            "Setup/Remove Counters:",
            f"setupStarted {c['setupStarted']} setupSaSetupFailImm 0",
            f"setupSaSetupStarted {c['setupSaSetupStarted']} setupSaSetupFailed 0",
            f"setupDone {c['setupDone']} setupFailed 0",
            "removeStarted 0 removeSaSetupStarted 0",
            "removeDone 0",
            "Outbound Packet Processing Counters:",
            "outDeny 0 outPermit 0",
            "outNoBundle 0 outNoBundleFail 0",
            "outMakeSetupStrctFail 0 outSetupBundleFail 0",
            "outBundleSoftExpire 0 outBundleExpire 0",
            f"outProcessStart {out} outProcessFailImm 0",
            "outBundleStateBad 0 outProcessFail 0",
            f"outProcessDone {out}",
            "Inbound Packet Processing Counters:",
            "inDeny 0 inPermit 0",
            "inCompUncompressed 0 inActionIpsecFail 0",
            "inBundleStateBad 0 inNotFirstSaInBundle 0",
            f"inProcessStart {c['inProcessStart']} inProcessFailImm 0",
            f"inProcessFail {fails} inProcessDone {inn}",
            "inEndOfBundle 0 inPrematureEndBundle 0",
            "inBundleSaMatchFail 0 inPolicyActionFail 0",
            "inPolSelectMatchFail 0 inBundleReplaced 0",
            "inBundleSoftExpire 0 inBundleExpire 0",
        ]
    return "\n".join(text) + "\n", data


def show_ipsec_sa_counters(cfg: Config, state: ShowState, sa_id: int | None) -> Out:
    """SHOW IPSEC SA[=n] COUNTERS (L5906-6065): every counter name in every block.

    The engine counts per flow (bundle): packets out/in, ICV and replay failures;
    the protocol's own counters carry them, the other protocol's print 0.
    """
    rows = [r for r in ipsec_sas(cfg, state) if sa_id is None or r["id"] == sa_id]
    if sa_id is not None and not rows:
        raise ShowError(f"Error (181050): SA {sa_id} does not exist.")
    lines: list[str] = []
    data = {}
    for r in rows:
        c = r["flow"].counters
        out, inn = c.encaps, c.decaps
        bad_icv, replay = c.verify_failed, c.replay_failed_recv
        in_start = inn + bad_icv + replay
        esp = r["protocol"] == "ESP"
        e_o, a_o = (out, 0) if esp else (0, out)
        e_i, a_i = (inn, 0) if esp else (0, inn)
        e_bad, a_bad = (bad_icv, 0) if esp else (0, bad_icv)
        e_rep, a_rep = (replay, 0) if esp else (0, replay)
        data[r["id"]] = {"out": out, "in": inn, "icv_invalid": bad_icv, "replayed": replay}
        lines += [
            f"SA: {r['id']}",
            "Outbound packet processing counters:",
            f"outProcessStart {out} outProcessFailImm 0",
            f"outProcessFail 0 outProcessDone {out}",
            "ESP:",
            "espOutBufChainCopy 0",
            f"espEncryptionStart {e_o} espEncryptionFailImm 0",
            f"espEncryptionFail 0 espEncryptionGood {e_o}",
            f"espOutHashStart {e_o} espOutHashFailImm 0",
            f"espOutHashFail 0 espOutHashGood {e_o}",
            "AH:",
            "ahOutBufChainCopy 0",
            "ahSeqNumberCycled 0 ahFragmentSeen 0",
            f"ahOutHashStart {a_o} ahOutHashFailImm 0",
            f"ahOutHashFail 0 ahOutHashGood {a_o}",
            "IPCOMP:",
            "compOutBufChainCopy 0",
            "compTooSmall 0 compFragment 0",
            "nonExpansionBackoff 0 dataExpansion 0",
            "compressionStart 0 compressionFailImm 0",
            "compressionFail 0 compressionGood 0",
            "Inbound packet processing counters:",
            f"inProcessStart {in_start} inProcessFailImm 0",
            f"inProcessFail {bad_icv + replay} inProcessDone {inn}",
            "ESP:",
            f"espInBufChainCopy 0 espReplayedPacket {e_rep}",
            f"espInHashStart {e_i + e_bad} espInHashFailImm 0",
            f"espInHashFail {e_bad} espInHashGood {e_i}",
            f"espDecryptionStart {e_i} espDecryptionFailImm 0",
            f"espDecryptionFail 0 espDecryptionGood {e_i}",
            f"espIcvInvalid {e_bad} espPaddingInvalid 0",
            "AH:",
            f"ahInBufChainCopy 0 ahReplayedPacket {a_rep}",
            f"ahBadPayloadLength 0 ahIcvInvalid {a_bad}",
            f"ahInHashStart {a_i + a_bad} ahInHashFailImm 0",
            f"ahInHashFail {a_bad} ahInHashGood {a_i}",
            "IPCOMP:",
            "compInBufChainCopy 0",
            "decompressionStart 0 decompressionFailImm 0",
            "decompressionFail 0 decompressionGood 0",
        ]
    return "\n".join(lines) + ("\n" if lines else ""), data


#: SHOW ISAKMP COUNTERS=GENERAL layout (L6534-6633): counter names, as printed per row.
ISAKMP_GENERAL_ROWS: tuple[tuple[str, ...], ...] = (
    ("acquire",),
    ("acquireNoPolicy", "acquireNoSa"),
    ("acquireEquivFound", "acqPh2EquivInProgress"),
    ("acqPh1XchgStartFailed", "acqPh2XchgStartFailed"),
    ("acquireQueued", "acqPeerAddrNameIncons"),
    ("acquirePrenegNoPolicy",),
    ("badSpiRequests", "badSpiFromKnownPeer"),
    ("badSpiInAggrMode", "badSpiSendNotifyUnset"),
    ("msgInitPh1p5StartFail",),
    ("doneGood", "donePhase1Failed"),
    ("doneSendConNoSa",),
    ("msgTx", "msgTxd"),
    ("txEncryptNoExchange", "msgTxEncryptNoEncoPrc"),
    ("msgTxStartEncrypt",),
    ("txEncryptFail", "txEncryptGood"),
    ("msgTxEncryptExpKBytes",),
    ("txRetryTxd", "txRetryXchgTimedOut"),
    ("retryIkeAttemptsPh1", "retryIkeAttemptsPh2"),
    ("msgRxd",),
    ("msgRxInconsistLengths", "msgRxBadLength"),
    ("msgRxBadReserved", "msgRxBadVersion"),
    ("msgRxBadNextPayload", "msgRxUnexpectedMsg"),
    ("msgRxNoExchange", "msgRxNoExchangePhase1"),
    ("msgRxP1NoXcgNot1stMsg", "msgRxPh1UnkwnXchgType"),
    ("msgRxPh1XchgStartFail", "msgRxPh1MsgIdNotZero"),
    ("msgRxP15XchgStartFail",),
    ("msgRxPhase2NoSa", "msgRxNoExchangePhase2"),
    ("msgRxPh2XchgStartFail", "msgRxPh2UnkwnXchgType"),
    ("msgRxEncrypted", "msgRxEncryptdUnexpect"),
    ("msgRxBadPad", "msgRxBadPadLength"),
    ("msgRxPayBadNextPay", "msgRxPayBadReserved"),
    ("msgRxDecryptNoEncoPrc", "msgRxStartDecrypt"),
    ("msgRxPlain", "msgRxPlainUnexpected"),
    ("msgRxBadPortIpChange", "msgRxFailOldPort"),
    ("msgRxPayBadLength",),
    ("rxDecryptNoExchange", "rxDecryptedBadLength"),
    ("rxDecryptGood", "rxDecryptFail"),
    ("rxDecryptedBadPad", "rxDecryptBadPadLength"),
    ("rxDecrptPayBadNextPay", "rxDecryptPayBadRsvd"),
    ("rxDecryptPayBadLength",),
    ("infoNoMatchingPolicy", "infoPh1NotifyDisabled"),
    ("infoPh1NoDelAllowed", "infoPh1ExchgStartFail"),
    ("infoPh2SANotFound", "infoPh2SANotActive"),
    ("infoPh2NotifyDisabled", "infoPh2DeleteDisabled"),
    ("infoPh2XchgStartFail",),
    ("deleteDelayStarted", "deleteDelayNotUsed"),
    ("deleteDelayPktsRxd", "deleteDelayRetrySent"),
    ("deleteDelayConSent", "deleteDelayConNoSA"),
    ("deleteDelayTxExceeded", "deleteDelayPktDiff"),
)  # fmt: skip

#: ISAKMP counter ← IKE engine counter (``engine.ike.engine.Counters``), where one exists.
_FROM_IKE = {"msgTx": "sent", "msgTxd": "sent", "txRetryTxd": "retransmits",
             "msgRxd": "received", "msgRxBadLength": "malformed"}  # fmt: skip
_CATEGORIES = ("GENERAL", "MAIN", "AGGRESSIVE", "QUICK", "SAD", "SPD", "XDB", "IPSEC", "INFO",
               "NETWORK", "TRANSACTION")  # fmt: skip


def isakmp_counters(which: str | None, ike: dict[str, int]) -> Out:
    """SHOW ISAKMP COUNTERS[=GENERAL] (L6517-6633).

    Only the GENERAL screen has a sample; the other categories of L6526-6530 are
    refused rather than invented.  Counters the engine keeps are filled in.
    """
    from engine.config.ar import resolve

    cat = resolve(which, _CATEGORIES) if which else "GENERAL"
    if not cat:
        raise ShowError(f'Error (3001006): Value "{which}" is not valid for parameter "COUNTERS".')
    if cat != "GENERAL":
        raise ShowError(f"Error (182099): ISAKMP {cat} counters are not available.")
    values = {name: int(ike.get(src, 0)) for name, src in _FROM_IKE.items()}
    lines = ["ISAKMP General Counters"]
    for row in ISAKMP_GENERAL_ROWS:
        lines.append(" ".join(f"{n} {values.get(n, 0)}" for n in row))
    return "\n".join(lines) + "\n", {n: values.get(n, 0) for row in ISAKMP_GENERAL_ROWS
                                        for n in row}  # fmt: skip

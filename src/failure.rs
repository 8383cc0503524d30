//! The failure vocabulary: why a session, a transaction or a connection failed.
//!
//! Each failure is counted under a [`FailureKind`], never just logged; its display form is the
//! stable key results files use. The TLS stacks classify their own errors into these kinds
//! ([`crate::tls`]); everything else here is pure.

use std::fmt;

/// Why a session or transaction failed. Its [`Display`](fmt::Display) form is the stable key used
/// in results files (for example `tls-alert-received:bad-certificate`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The TCP connection was refused.
    ConnectRefused,
    /// The TCP connect did not finish within the connect timeout.
    ConnectTimeout,
    /// Another error while connecting (the `std::io::ErrorKind`, kebab-case).
    ConnectError(String),
    /// The TLS handshake did not finish within the handshake timeout.
    HandshakeTimeout,
    /// The peer sent a TLS alert (alert name, kebab-case).
    TlsAlertReceived(String),
    /// The local side rejected the peer's certificate and sent an alert: the certificate error kind.
    Certificate(String),
    /// Another TLS error raised locally (rustls error, kebab-case).
    Tls(String),
    /// A SIP final response with status >= 400.
    SipStatus(u16),
    /// No final SIP response within the SIP timeout.
    SipTimeout,
    /// The peer sent something that is not valid SIP, or broke the framing.
    SipProtocol(String),
    /// The connection was reset or closed by the peer mid-session.
    Reset,
    /// Another I/O error after the handshake.
    Io(String),
    /// A server-to-server peer with a valid certificate that is not a trusted server of the
    /// topology, refused after the handshake.
    NotInTopology,
    /// A session presenting a bad certificate (a negative case) was accepted.
    BadCertAccepted,
    /// A generator task panicked (a bug in sipbench): its sessions are lost (`panic`, one per
    /// task).
    Panic,
    /// A connection sent nothing for the idle timeout and was closed (`io:idle-timeout`).
    IdleTimeout,
    /// A reconnect storm's session was not back before the window closed
    /// (`io:not-back-in-time`).
    NotBackInTime,
    /// A resumed MTLS session that did not carry the client's certificate identity, refused
    /// (`tls:mtls-resumed-without-identity`).
    MtlsResumedWithoutIdentity,
    /// The name to verify the server by is neither a DNS name nor an IP address
    /// (`tls:invalid-server-name`).
    InvalidServerName,
    /// A request did not arrive whole within the message timeout, counted from its first byte
    /// (`io:message-timeout`): a slowloris peer.
    MessageTimeout,
    /// A write to the peer did not finish within the write timeout (`io:write-timeout`): a
    /// peer that does not read.
    WriteTimeout,
    /// A connection refused because its source address already had the most connections one
    /// address may hold (`over-address-cap`).
    OverAddressCap,
    /// A bulk stream ended without the server's trailer (`sip-protocol:bulk-no-trailer`).
    BulkNoTrailer,
    /// A bulk stream's byte count or CRC-32 did not match what was sent
    /// (`sip-protocol:bulk-checksum-mismatch`).
    BulkChecksumMismatch,
    /// No connect to the target succeeded for a while and the phase was stopped early
    /// (`target-down`; counted once per phase, beside the connect failures themselves).
    TargetDown,
    /// Digest credentials the server refused: challenged again (not stale) right after
    /// answering a challenge, or 403 to a request that carried credentials (`auth:rejected`).
    AuthRejected,
    /// Challenged (401/407) with no password to answer with (`auth:no-credentials`).
    AuthNoCredentials,
    /// A challenge this client cannot answer: another scheme, an unknown algorithm, only
    /// `auth-int` (`auth:unsupported:<why>`).
    AuthUnsupported(String),
}

impl FailureKind {
    /// A failure to reach the target at all (refused, timed out, or another connect error).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            FailureKind::ConnectRefused | FailureKind::ConnectTimeout | FailureKind::ConnectError(_)
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::ConnectRefused => f.write_str("connect-refused"),
            FailureKind::ConnectTimeout => f.write_str("connect-timeout"),
            FailureKind::ConnectError(e) => write!(f, "connect-error:{e}"),
            FailureKind::HandshakeTimeout => f.write_str("handshake-timeout"),
            FailureKind::TlsAlertReceived(a) => write!(f, "tls-alert-received:{a}"),
            FailureKind::Certificate(c) => write!(f, "certificate:{c}"),
            FailureKind::Tls(e) => write!(f, "tls:{e}"),
            FailureKind::SipStatus(s) => write!(f, "sip-status:{s}"),
            FailureKind::SipTimeout => f.write_str("sip-timeout"),
            FailureKind::SipProtocol(e) => write!(f, "sip-protocol:{e}"),
            FailureKind::Reset => f.write_str("reset"),
            FailureKind::Io(e) => write!(f, "io:{e}"),
            FailureKind::NotInTopology => f.write_str("not-in-topology"),
            FailureKind::BadCertAccepted => f.write_str("bad-cert-accepted"),
            FailureKind::Panic => f.write_str("panic"),
            FailureKind::IdleTimeout => f.write_str("io:idle-timeout"),
            FailureKind::NotBackInTime => f.write_str("io:not-back-in-time"),
            FailureKind::MessageTimeout => f.write_str("io:message-timeout"),
            FailureKind::WriteTimeout => f.write_str("io:write-timeout"),
            FailureKind::OverAddressCap => f.write_str("over-address-cap"),
            FailureKind::MtlsResumedWithoutIdentity => f.write_str("tls:mtls-resumed-without-identity"),
            FailureKind::InvalidServerName => f.write_str("tls:invalid-server-name"),
            FailureKind::BulkNoTrailer => f.write_str("sip-protocol:bulk-no-trailer"),
            FailureKind::BulkChecksumMismatch => f.write_str("sip-protocol:bulk-checksum-mismatch"),
            FailureKind::TargetDown => f.write_str("target-down"),
            FailureKind::AuthRejected => f.write_str("auth:rejected"),
            FailureKind::AuthNoCredentials => f.write_str("auth:no-credentials"),
            FailureKind::AuthUnsupported(why) => write!(f, "auth:unsupported:{why}"),
        }
    }
}

/// Turns a Rust enum variant name such as `BadCertificate` into `bad-certificate`; acronyms
/// stay together (`UnknownCA` gives `unknown-ca`, `TLSError` gives `tls-error`).
pub fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '_' || ch == ' ' {
            if !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if ch.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
            let boundary =
                prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// The kebab-case variant name from a `Debug` rendering of an enum value:
/// `NotValidForNameContext { .. }` gives `not-valid-for-name`, `TooLarge { limit: 4 }` gives
/// `too-large`.
pub fn variant_kebab(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    kebab(name.strip_suffix("Context").unwrap_or(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keys_are_stable() {
        assert_eq!(
            FailureKind::TlsAlertReceived(kebab("BadCertificate")).to_string(),
            "tls-alert-received:bad-certificate"
        );
        assert_eq!(
            FailureKind::Certificate(kebab("NotValidForName")).to_string(),
            "certificate:not-valid-for-name"
        );
        assert_eq!(FailureKind::SipStatus(503).to_string(), "sip-status:503");
        // Named kinds keep the keys they had as strings.
        assert_eq!(
            FailureKind::IdleTimeout.to_string(),
            FailureKind::Io("idle-timeout".into()).to_string()
        );
        assert_eq!(
            FailureKind::BulkNoTrailer.to_string(),
            FailureKind::SipProtocol("bulk-no-trailer".into()).to_string()
        );
        assert_eq!(kebab("TimedOut"), "timed-out");
        assert_eq!(kebab("UnknownCA"), "unknown-ca");
        assert_eq!(kebab("TLSError"), "tls-error");
        assert_eq!(kebab("Tls12NotOffered"), "tls12-not-offered");
        assert_eq!(kebab("CertificateRequired"), "certificate-required");
    }
}

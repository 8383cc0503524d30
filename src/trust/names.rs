//! The names of a certificate, read strictly: one parse, one truth.
//!
//! The CA scope rule and the topology look at the DNS names and IP addresses of a certificate's
//! subjectAltName. Two parsers that disagree about that extension are a bypass waiting to
//! happen (one skips an entry the other chokes on, and the check sees no names at all), so this
//! module reads the extension with its own small DER reader and refuses anything it cannot read
//! completely:
//!
//! - more than one subjectAltName extension, or DER that does not parse;
//! - a dNSName that is not a valid presented DNS name (ASCII letters, digits, `-` and `_` in
//!   labels of 1 to 63 characters, at most 253 characters, no trailing dot, a wildcard only as
//!   the whole first label of a name with at least two more labels, not all digits in the last
//!   label);
//! - an rfc822Name or URI that is not IA5String (a byte >= 0x80);
//! - an iPAddress that is not 4 or 16 bytes;
//! - an otherName that is not an OBJECT IDENTIFIER followed by one `[0]`-tagged DER value; a
//!   directoryName that is not a Name (a SEQUENCE of SETs of attribute type and string value);
//!   a registeredID that is not a valid OBJECT IDENTIFIER;
//! - an x400Address or an ediPartyName (no certificate of this trade uses them, and parsers
//!   differ on what they accept);
//! - a GeneralName tag that RFC 5280 does not define.
//!
//! The otherName, directoryName and registeredID entries are then ignored: they name nothing
//! the trust model checks. (OpenSSL decodes them as their types and refuses a certificate when
//! one does not decode; webpki skips them. Reading them strictly here keeps the two stacks'
//! decisions the same.) The subject common name is never a name here: neither TLS stack matches
//! it (rustls never does; the OpenSSL stack is told not to).
//!
//! On top of that, [`CertNames::parse`] requires the DNS names it found to be exactly those that
//! webpki, the rustls stack's path validator, reads from the same bytes
//! (`Cert::valid_dns_names`): the names checked for scope and topology are the names the
//! validator matched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use x509_parser::prelude::FromDer;

/// Why a certificate's names cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The certificate itself does not parse.
    #[error("the certificate does not parse: {0}")]
    Certificate(String),
    /// More than one subjectAltName extension.
    #[error("more than one subjectAltName extension")]
    DuplicateExtension,
    /// The extension's DER is malformed.
    #[error("malformed subjectAltName DER: {0}")]
    Der(&'static str),
    /// A dNSName that is not a valid DNS name.
    #[error("dNSName {0:?} is not a valid DNS name")]
    DnsName(String),
    /// An rfc822Name or URI that is not IA5String.
    #[error("{kind} entry is not IA5String (byte 0x{byte:02x})")]
    NotIa5 {
        /// `rfc822Name` or `uniformResourceIdentifier`.
        kind: &'static str,
        /// The first offending byte.
        byte: u8,
    },
    /// An iPAddress of a length other than 4 or 16.
    #[error("iPAddress of {0} bytes")]
    IpLength(usize),
    /// A tag that is not a GeneralName.
    #[error("tag 0x{0:02x} is not a GeneralName")]
    Tag(u8),
    /// An otherName, directoryName or registeredID whose contents are not what its type says.
    #[error("{0} entry does not decode as its type")]
    Malformed(&'static str),
    /// An x400Address or ediPartyName.
    #[error("{0} entries are not accepted")]
    Unsupported(&'static str),
    /// The DNS names differ from those the path validator reads.
    #[error("the path validator reads other DNS names ({0})")]
    Disagreement(String),
}

/// The names the trust model looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// DNS names (lower case; wildcards kept as `*.example.test`).
    pub dns: Vec<String>,
    /// IP addresses.
    pub ips: Vec<IpAddr>,
}

/// The subjectAltName OID, 2.5.29.17, as DER content bytes.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

impl CertNames {
    /// The names of the certificate `der`, or why they cannot be read.
    pub fn parse(der: &[u8]) -> Result<CertNames, NameError> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
            .map_err(|e| NameError::Certificate(e.to_string()))?;
        let mut sans = cert
            .extensions()
            .iter()
            .filter(|e| e.oid.as_bytes() == SAN_OID)
            .map(|e| e.value);
        let names = match (sans.next(), sans.next()) {
            (None, _) => CertNames::default(),
            (Some(value), None) => parse_san(value)?,
            (Some(_), Some(_)) => return Err(NameError::DuplicateExtension),
        };
        let cert = rustls_pki_types::CertificateDer::from(der);
        let webpki = webpki::EndEntityCert::try_from(&cert).map_err(|e| NameError::Certificate(format!("{e:?}")))?;
        let theirs: Vec<String> = webpki.valid_dns_names().map(str::to_ascii_lowercase).collect();
        if theirs != names.dns {
            return Err(NameError::Disagreement(theirs.join(", ")));
        }
        Ok(names)
    }
}

/// Reads a subjectAltName extension value (`GeneralNames`).
pub fn parse_san(value: &[u8]) -> Result<CertNames, NameError> {
    let mut outer = Reader(value);
    let (tag, body) = outer.tlv()?;
    if tag != 0x30 {
        return Err(NameError::Der("GeneralNames is not a SEQUENCE"));
    }
    if !outer.0.is_empty() {
        return Err(NameError::Der("bytes after GeneralNames"));
    }
    let mut names = CertNames::default();
    let mut r = Reader(body);
    while !r.0.is_empty() {
        let (tag, v) = r.tlv()?;
        match tag {
            // dNSName
            0x82 => {
                let text = std::str::from_utf8(v)
                    .ok()
                    .filter(|t| valid_dns_name(t))
                    .ok_or_else(|| NameError::DnsName(String::from_utf8_lossy(v).into_owned()))?;
                names.dns.push(text.to_ascii_lowercase());
            }
            // rfc822Name, uniformResourceIdentifier
            0x81 | 0x86 => {
                if let Some(&byte) = v.iter().find(|b| **b >= 0x80) {
                    let kind = if tag == 0x81 {
                        "rfc822Name"
                    } else {
                        "uniformResourceIdentifier"
                    };
                    return Err(NameError::NotIa5 { kind, byte });
                }
            }
            // iPAddress
            0x87 => names.ips.push(match v.len() {
                4 => IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(v);
                    IpAddr::V6(Ipv6Addr::from(a))
                }
                n => return Err(NameError::IpLength(n)),
            }),
            0xa0 => other_name(v).ok_or(NameError::Malformed("otherName"))?,
            0xa4 => directory_name(v).ok_or(NameError::Malformed("directoryName"))?,
            0x88 if valid_oid(v) => {}
            0x88 => return Err(NameError::Malformed("registeredID")),
            0xa3 => return Err(NameError::Unsupported("x400Address")),
            0xa5 => return Err(NameError::Unsupported("ediPartyName")),
            other => return Err(NameError::Tag(other)),
        }
    }
    Ok(names)
}

/// An otherName's contents: `type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY`.
fn other_name(v: &[u8]) -> Option<()> {
    let mut r = Reader(v);
    let (tag, oid) = r.tlv().ok()?;
    let (wrapper, value) = r.tlv().ok()?;
    if tag != 0x06 || !valid_oid(oid) || wrapper != 0xa0 || !r.0.is_empty() {
        return None;
    }
    let mut inner = Reader(value);
    let (t, body) = inner.tlv().ok()?;
    (inner.0.is_empty() && well_formed(t, body, MAX_DEPTH)).then_some(())
}

/// How deep an otherName's value may nest: far more than any real one, and a bounded stack.
const MAX_DEPTH: usize = 16;

/// A directoryName's contents: one Name, a SEQUENCE of SETs of `AttributeTypeAndValue`
/// (an OBJECT IDENTIFIER and a string).
fn directory_name(v: &[u8]) -> Option<()> {
    /// The string types X.520 attribute values use.
    const STRINGS: [u8; 8] = [0x0c, 0x12, 0x13, 0x14, 0x16, 0x1a, 0x1c, 0x1e];
    let mut outer = Reader(v);
    let (tag, rdns) = outer.tlv().ok()?;
    if tag != 0x30 || !outer.0.is_empty() {
        return None;
    }
    let mut rdns = Reader(rdns);
    while !rdns.0.is_empty() {
        let (tag, set) = rdns.tlv().ok()?;
        if tag != 0x31 || set.is_empty() {
            return None;
        }
        let mut set = Reader(set);
        while !set.0.is_empty() {
            let (tag, atv) = set.tlv().ok()?;
            let mut atv = Reader(atv);
            let (oid_tag, oid) = atv.tlv().ok()?;
            let (value_tag, _) = atv.tlv().ok()?;
            if tag != 0x30 || oid_tag != 0x06 || !valid_oid(oid) || !STRINGS.contains(&value_tag) || !atv.0.is_empty() {
                return None;
            }
        }
    }
    Some(())
}

/// Whether `v` is the contents of a valid OBJECT IDENTIFIER: at least one byte, each arc in
/// minimal base-128 (no leading 0x80), the last byte ending an arc.
fn valid_oid(v: &[u8]) -> bool {
    // An arc starts at the first byte and after each byte without the continuation bit.
    let minimal = v
        .iter()
        .enumerate()
        .all(|(i, b)| *b != 0x80 || (i > 0 && v[i - 1] & 0x80 != 0));
    v.last().is_some_and(|last| last & 0x80 == 0) && minimal
}

/// Whether a value is well-formed DER all the way down (constructed values hold only TLVs),
/// nesting at most `depth` constructed values.
fn well_formed(tag: u8, body: &[u8], depth: usize) -> bool {
    if tag & 0x20 == 0 {
        return true;
    }
    let Some(depth) = depth.checked_sub(1) else {
        return false;
    };
    let mut r = Reader(body);
    while !r.0.is_empty() {
        match r.tlv() {
            Ok((t, b)) if well_formed(t, b, depth) => {}
            _ => return false,
        }
    }
    true
}

/// Whether `name` is a valid presented DNS name (see the module docs).
pub fn valid_dns_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 || !name.is_ascii() {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let last = labels[labels.len() - 1];
    if last.is_empty() || last.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    labels.iter().enumerate().all(|(i, label)| {
        if *label == "*" {
            return i == 0 && labels.len() >= 3;
        }
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A DER reader over a byte slice: definite, minimal lengths only, single-byte tags.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, NameError> {
        let (&b, rest) = self.0.split_first().ok_or(NameError::Der("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    /// One tag-length-value: the tag byte and the value.
    fn tlv(&mut self) -> Result<(u8, &'a [u8]), NameError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(NameError::Der("multi-byte tag"));
        }
        let first = self.byte()?;
        let len = match first {
            n if n < 0x80 => n as usize,
            0x81 => match self.byte()? {
                n if n >= 0x80 => n as usize,
                _ => return Err(NameError::Der("non-minimal length")),
            },
            0x82 => {
                let n = (self.byte()? as usize) << 8 | self.byte()? as usize;
                if n < 0x100 {
                    return Err(NameError::Der("non-minimal length"));
                }
                n
            }
            0x80 => return Err(NameError::Der("indefinite length")),
            _ => return Err(NameError::Der("length too large")),
        };
        if self.0.len() < len {
            return Err(NameError::Der("truncated"));
        }
        let (value, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok((tag, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::{San, san_der, tag};

    fn names(entries: &[San]) -> Result<CertNames, NameError> {
        parse_san(&san_der(entries))
    }

    #[test]
    fn reads_dns_and_ip_names_and_skips_the_other_kinds() {
        let got = names(&[
            San::Dns("SIP.Example.test".into()),
            San::Ip("127.0.0.1".parse().unwrap()),
            San::Ip("::1".parse().unwrap()),
            San::Raw(tag::RFC822, b"a@example.test".to_vec()),
            San::Raw(tag::URI, b"sip:example.test".to_vec()),
            San::Dns("*.example.test".into()),
        ])
        .unwrap();
        assert_eq!(got.dns, ["sip.example.test", "*.example.test"]);
        assert_eq!(
            got.ips,
            ["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_completely() {
        let bad = |e: San| names(&[San::Dns("ok.example.test".into()), e]).unwrap_err();
        assert!(matches!(
            bad(San::Raw(tag::RFC822, vec![b'a', 0xe9])),
            NameError::NotIa5 {
                kind: "rfc822Name",
                byte: 0xe9
            }
        ));
        assert!(matches!(bad(San::Raw(tag::URI, vec![0xff])), NameError::NotIa5 { .. }));
        assert!(matches!(
            bad(San::Raw(tag::DNS, vec![0xc3, 0xa9])),
            NameError::DnsName(_)
        ));
        assert!(matches!(
            bad(San::Raw(tag::IP, vec![1, 2, 3, 4, 5])),
            NameError::IpLength(5)
        ));
        assert!(matches!(bad(San::Raw(0x89, vec![1])), NameError::Tag(0x89)));
        for (tag, contents, kind) in [
            (0xa0, &b"junk"[..], "otherName"),
            (0xa0, &[0x06, 0x01, 0x2a][..], "otherName"),
            (0xa4, &b"junk"[..], "directoryName"),
            (0xa4, &[0x04, 0x00][..], "directoryName"),
            (0xa4, &[0x30, 0x02, 0x31, 0x00][..], "directoryName"),
            (0x88, &[0x80, 0x01][..], "registeredID"),
            (0x88, &[0x2b, 0x86][..], "registeredID"),
        ] {
            assert_eq!(
                bad(San::Raw(tag, contents.to_vec())),
                NameError::Malformed(kind),
                "{tag:02x}"
            );
        }
        assert_eq!(
            bad(San::Raw(0xa3, vec![0x30, 0x00])),
            NameError::Unsupported("x400Address")
        );
        assert_eq!(
            bad(San::Raw(0xa5, vec![0x30, 0x00])),
            NameError::Unsupported("ediPartyName")
        );
        for name in [
            "example.test.",
            "a..test",
            "-a.test",
            "a.123",
            "*",
            "*.test",
            "a.*.test",
            "x*.test",
            "",
        ] {
            assert!(matches!(bad(San::Dns(name.into())), NameError::DnsName(_)), "{name}");
        }
        // Truncated, trailing and non-minimal DER.
        let mut der = san_der(&[San::Dns("a.test".into())]);
        assert!(parse_san(&der[..der.len() - 1]).is_err());
        der.push(0);
        assert_eq!(parse_san(&der), Err(NameError::Der("bytes after GeneralNames")));
        assert_eq!(
            parse_san(&[0x30, 0x81, 0x01, 0x00]),
            Err(NameError::Der("non-minimal length"))
        );
        assert_eq!(
            parse_san(&[0x30, 0x80, 0x00, 0x00]),
            Err(NameError::Der("indefinite length"))
        );
    }

    #[test]
    fn other_names_directory_names_and_registered_ids_that_decode_are_read_and_ignored() {
        // A UPN otherName (1.3.6.1.4.1.311.20.2.3, as AD CS writes for users), CN=a as a
        // directoryName, and registeredID 1.3.6.1.
        let upn = [
            0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03, 0xa0, 0x05, 0x0c, 0x03, b'a', b'@',
            b'b',
        ];
        let dir = [
            0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'a',
        ];
        let got = names(&[
            San::Dns("sip.example.test".into()),
            San::Raw(0xa0, upn.to_vec()),
            San::Raw(0xa4, dir.to_vec()),
            San::Raw(0x88, vec![0x2b, 0x06, 0x01]),
        ])
        .unwrap();
        assert_eq!(got.dns, ["sip.example.test"]);
        assert!(got.ips.is_empty());
    }

    #[test]
    fn dns_names_follow_the_presented_id_rules() {
        for ok in [
            "a.test",
            "sip_1.example.test",
            "*.example.test",
            "x-y.example.test",
            "localhost",
        ] {
            assert!(valid_dns_name(ok), "{ok}");
        }
        assert!(valid_dns_name(&format!("{}.test", "a".repeat(63))));
        assert!(!valid_dns_name(&format!("{}.test", "a".repeat(64))));
    }
}

//! OpenSSL as a separate TLS stack (work in progress).

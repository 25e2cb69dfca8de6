//! RSA PKCS#1 v1.5 signatures with SHA-1, for SPs that accept nothing newer.
//!
//! aws-lc-rs deliberately offers SHA-1 RSA only for verification. JumpCloud and
//! the SAML ecosystem still expose RSA-SHA1 signing as a legacy option, so this
//! crate calls the same aws-lc library (already linked through aws-lc-rs) via its
//! `RSA_sign` function. It owns exactly one operation and no other crate may use
//! `unsafe`. Inputs are a PKCS#8 DER RSA private key and the message.

use aws_lc_sys as ffi;

/// Signing failed: the key did not parse as an RSA PKCS#8 key, or aws-lc refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignError;

/// Signs SHA-1(`msg`) with RSA PKCS#1 v1.5 using the PKCS#8 DER key `pkcs8`.
#[allow(unsafe_code)]
pub fn sign(pkcs8: &[u8], msg: &[u8]) -> Result<Vec<u8>, SignError> {
    let mut digest = [0u8; 20];
    // SAFETY: every pointer passed below points into live Rust buffers of the
    // stated length; objects allocated by aws-lc are freed exactly once by the
    // guard; no pointer outlives this function.
    unsafe {
        ffi::SHA1(msg.as_ptr(), msg.len(), digest.as_mut_ptr());
        let mut cbs = std::mem::MaybeUninit::<ffi::CBS>::uninit();
        ffi::CBS_init(cbs.as_mut_ptr(), pkcs8.as_ptr(), pkcs8.len());
        let pkey = ffi::EVP_parse_private_key(cbs.as_mut_ptr());
        if pkey.is_null() {
            return Err(SignError);
        }
        struct Guard(*mut ffi::EVP_PKEY);
        impl Drop for Guard {
            fn drop(&mut self) {
                // SAFETY: the pointer came from EVP_parse_private_key and is freed once.
                unsafe { ffi::EVP_PKEY_free(self.0) }
            }
        }
        let guard = Guard(pkey);
        let rsa = ffi::EVP_PKEY_get0_RSA(guard.0);
        if rsa.is_null() {
            return Err(SignError);
        }
        let size = ffi::RSA_size(rsa) as usize;
        let mut sig = vec![0u8; size];
        let mut len: std::os::raw::c_uint = 0;
        let ok = ffi::RSA_sign(
            ffi::NID_sha1 as _,
            digest.as_ptr(),
            digest.len() as _,
            sig.as_mut_ptr(),
            &mut len,
            rsa,
        );
        if ok != 1 || len as usize != size {
            return Err(SignError);
        }
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_key_is_refused() {
        assert_eq!(sign(b"not a key", b"m"), Err(SignError));
    }
}

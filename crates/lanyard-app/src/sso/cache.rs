//! A per-node cache of each application's SSO inputs: the app row, its
//! grants (bound groups, entitlements) and its active signing key.
//!
//! Every SSO request asks the store one question, `(id, sso_version)` of
//! the app with this slug, and reuses what it loaded at that pair. The
//! store changes the version with anything a response is built from (the
//! app row, bindings, entitlements, keys; migration 0005's triggers), and
//! ids are never reused, so a deactivation, an unbinding or a key rotation
//! made on any node is seen by the next request on every node. What is per
//! user (the user row and their groups) is never cached.
//!
//! The version is read before the inputs are loaded, so a change that
//! lands in between files the (newer) inputs under the older version: the
//! next request sees the newer version and reloads. An entry is never filed
//! under a version newer than what it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lanyard_core::application::{AppKey, Application, PrivateKeyPem};
use lanyard_core::sso::AppGrants;
use lanyard_core::{AppId, Error, Result};

use lanyard_core::store::Store;

use crate::access::load_app_grants;

/// Apps kept per node; past it, an arbitrary entry makes room.
pub const MAX_CACHED_APPS: usize = 4096;

/// What an SSO response for one app is built from, besides the user.
pub(crate) struct SsoInputs {
    pub app: Application,
    pub grants: AppGrants,
    pub key: AppKey,
    pub private_key: PrivateKeyPem,
}

struct Entry {
    id: AppId,
    version: i64,
    inputs: Arc<SsoInputs>,
}

#[derive(Clone, Default)]
pub(crate) struct AppCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl AppCache {
    /// The inputs of the app with this slug, given its (id, version) as the
    /// store just answered (`None`: no such app, e.g. read with the session
    /// in one statement).
    pub(crate) async fn at(
        &self,
        store: &dyn Store,
        slug: &str,
        version: Option<(AppId, i64)>,
    ) -> Result<Option<Arc<SsoInputs>>> {
        let Some((id, version)) = version else {
            self.lock().remove(slug);
            return Ok(None);
        };
        if let Some(hit) = self
            .lock()
            .get(slug)
            .filter(|e| e.id == id && e.version == version)
        {
            return Ok(Some(hit.inputs.clone()));
        }
        let app = match store.get_app_by_slug(slug).await {
            Ok(app) => app,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (grants, (key, private_key)) = tokio::try_join!(
            load_app_grants(store, app.id),
            store.active_signing_key(app.id)
        )?;
        let inputs = Arc::new(SsoInputs {
            grants,
            key,
            private_key,
            app,
        });
        if inputs.app.id == id {
            let mut entries = self.lock();
            if entries.len() >= MAX_CACHED_APPS && !entries.contains_key(slug) {
                if let Some(victim) = entries.keys().next().cloned() {
                    entries.remove(&victim);
                }
            }
            entries.insert(
                slug.to_owned(),
                Entry {
                    id,
                    version,
                    inputs: inputs.clone(),
                },
            );
        }
        Ok(Some(inputs))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

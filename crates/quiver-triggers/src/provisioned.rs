//! Provisioned concurrency: the reconciler between the stored configs and the
//! environments the engine keeps initialised.
//!
//! The store keeps the configs (per version or alias); the engine keeps environments
//! per resolved spec and knows nothing of qualifiers. Between them sits this module,
//! over the one [`Invoker`] — it resolves each config's qualifier the way invocations
//! do ([`Invoker::route`], same cache, same specs with the function's reservation),
//! adds up what every config wants per version and hands the whole picture to the
//! engine ([`quiver_engine::Engine::set_provisioned`]). It runs
//! - at start and whenever the store's change counter moved (a background loop, so
//!   version and alias changes, deletes and reservations are followed), and
//! - right after Put/Delete, called by the API, so a Put is IN_PROGRESS at once.
//!
//! An alias with a RoutingConfig splits its environments between its two versions by
//! weight ([`quiver_model::provisioned::additional_share`]), as Lambda does.
//!
//! The figures the API reports ([`Invoker::provisioned_figures`]) come from the
//! engine's real state, never from a timer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use quiver_engine::ProvisionedTarget;
use quiver_model::provisioned::{additional_share, ProvisionedConfig};

use crate::invoker::{FunctionTarget, Invoker, Resolved, Route};
use crate::TriggerError;

/// How often the background loop looks at the store's change counter (a read of an
/// atomic; it reconciles only when the counter moved).
const POLL: Duration = Duration::from_millis(250);

/// What a config reports, from the engine's environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Environments initialised for it (idle or serving).
    pub allocated: u32,
    /// Why its environments failed to initialise, if they did.
    pub failed: Option<String>,
}

/// The versions a config of `requested` environments on `route` provisions, with
/// their share.
fn parts(route: &Route, requested: u32) -> Vec<(&Arc<Resolved>, u32)> {
    match &route.additional {
        Some((extra, weight)) => {
            let k = additional_share(requested, *weight);
            vec![(&route.primary, requested - k), (extra, k)]
        }
        None => vec![(&route.primary, requested)],
    }
}

impl Invoker {
    /// Tells the engine what every stored config wants now. Without an engine there is
    /// nothing to provision.
    pub async fn reconcile_provisioned(&self) -> Result<(), TriggerError> {
        let Some(engine) = self.engine().cloned() else {
            return Ok(());
        };
        let mut at = self.provisioned_at().lock().await;
        let store = self.store().clone();
        let changes = store.change_counter();
        let configs = tokio::task::spawn_blocking(move || store.all_provisioned())
            .await
            .map_err(|e| TriggerError::Platform(format!("store task failed: {e}")))?
            .map_err(|e| TriggerError::Platform(format!("store: {e}")))?;
        let mut targets: HashMap<(String, String), ProvisionedTarget> = HashMap::new();
        for c in configs {
            let route = match self.route(&config_target(&c)).await {
                Ok(r) => r,
                // Deleted since the list was read: its config went with it.
                Err(TriggerError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            for (resolved, n) in parts(&route, c.requested) {
                if n == 0 {
                    continue;
                }
                let spec = &resolved.spec;
                let t = targets
                    .entry((spec.name.clone(), spec.version.clone()))
                    .or_insert_with(|| ProvisionedTarget {
                        spec: spec.clone(),
                        count: 0,
                        stamp: String::new(),
                    });
                t.count = t.count.saturating_add(n);
                t.stamp
                    .push_str(&format!("{}={};", c.qualifier, c.last_modified));
            }
        }
        let total: u32 = targets.values().map(|t| t.count).sum();
        engine.set_provisioned(targets.into_values().collect());
        if *at != Some(changes) {
            tracing::debug!(
                changes,
                environments = total,
                "provisioned concurrency reconciled"
            );
        }
        *at = Some(changes);
        Ok(())
    }

    /// Reconciles at once and then whenever the store changed, until the process ends.
    pub fn spawn_provisioner(&self) {
        let invoker = self.clone();
        tokio::spawn(async move {
            loop {
                let due = {
                    let at = *invoker.provisioned_at().lock().await;
                    at != Some(invoker.store().change_counter())
                };
                if due {
                    if let Err(e) = invoker.reconcile_provisioned().await {
                        tracing::warn!("reconciling provisioned concurrency: {e}");
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        });
    }

    /// What the config of `name` on `qualifier` (`requested` environments) has now:
    /// the initialised environments of the version(s) it resolves to, up to its share.
    pub async fn provisioned_figures(
        &self,
        name: &str,
        qualifier: &str,
        requested: u32,
    ) -> Result<Figures, TriggerError> {
        let target = FunctionTarget {
            name: name.to_string(),
            qualifier: Some(qualifier.to_string()),
        };
        let route = self.route(&target).await?;
        let mut figures = Figures {
            allocated: 0,
            failed: None,
        };
        let Some(engine) = self.engine() else {
            return Ok(figures);
        };
        for (resolved, n) in parts(&route, requested) {
            if n == 0 {
                continue;
            }
            if let Some(s) = engine.provisioned_status(&resolved.spec.name, &resolved.spec.version)
            {
                figures.allocated += s.allocated.min(n);
                if s.failed.is_some() {
                    figures.failed = s.failed;
                }
            }
        }
        Ok(figures)
    }
}

fn config_target(c: &ProvisionedConfig) -> FunctionTarget {
    FunctionTarget {
        name: c.function.clone(),
        qualifier: Some(c.qualifier.clone()),
    }
}

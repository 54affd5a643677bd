//! Builds each configured target's adapter and worker settings at start-up:
//! the one place that knows which adapter serves which `kind`.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigProblem, ForwardingSettings, Mappings, TargetKind, TargetSettings};
use crate::dialect::bitrix24::client::Bitrix24Client;
use crate::dialect::livetex::client::LivetexClient;
use crate::dialect::salesman::client::SalesmanClient;
use crate::dialect::uis::client::UisClient;
use crate::forward::backoff::RetryPolicy;
use crate::forward::nats::NatsTarget;
use crate::forward::webhook::Webhook;
use crate::forward::{ForwarderOptions, Pacer, Target, TargetWorker};
use crate::mapping::{Mapping, FORWARD_RECORD};

/// One worker set per target, or the problems that stop them being built.
pub fn build(
    settings: &ForwardingSettings,
    mappings: &Mappings,
    source: &str,
) -> Result<Vec<TargetWorker>, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut workers = Vec::new();
    for (index, target) in settings.targets.iter().enumerate() {
        let key = format!("forwarding.targets[{index}]");
        let lease = Duration::from_secs_f64(settings.lease_secs);
        match adapter(target, mappings, &settings.gateway_id, lease) {
            Ok(adapter) => workers.push(TargetWorker {
                name: target.name.clone(),
                target: adapter,
                batch_size: target.batch_size(),
                concurrency: target.concurrency(),
                pacer: Arc::new(Pacer::new(target.requests_per_second())),
                // A paced target gets one loop, so its batches fill up
                // while it waits for the next slot.
                loops: if target.requests_per_second().is_some() {
                    1
                } else {
                    4
                },
            }),
            Err((file, problem)) => problems.push(ConfigProblem {
                file: file.unwrap_or_else(|| source.to_owned()),
                key: key.clone(),
                problem,
            }),
        }
    }
    if problems.is_empty() {
        Ok(workers)
    } else {
        Err(problems)
    }
}

type BuildError = (Option<String>, String);

fn needs_record(mapping: &Mapping, record: &str, kind: TargetKind) -> Result<(), BuildError> {
    match mapping.record(record) {
        Some(_) => Ok(()),
        None => Err((
            Some(mapping.source.clone()),
            format!(
                "a {} target needs [[records.{record}]] in this mapping file",
                kind.as_str()
            ),
        )),
    }
}

fn adapter(
    target: &TargetSettings,
    mappings: &Mappings,
    gateway_id: &str,
    lease: Duration,
) -> Result<Arc<dyn Target>, BuildError> {
    Ok(match target.kind {
        TargetKind::Webhook => Arc::new(Webhook::new(target)),
        TargetKind::Bitrix24 => {
            needs_record(&mappings.bitrix24, FORWARD_RECORD, target.kind)?;
            Arc::new(Bitrix24Client::new(
                target,
                mappings.bitrix24.clone(),
                gateway_id,
            ))
        }
        TargetKind::Salesman => {
            needs_record(&mappings.salesman, FORWARD_RECORD, target.kind)?;
            Arc::new(SalesmanClient::new(
                target,
                mappings.salesman.clone(),
                gateway_id,
            ))
        }
        TargetKind::Livetex => {
            needs_record(&mappings.livetex, FORWARD_RECORD, target.kind)?;
            Arc::new(LivetexClient::new(target, mappings.livetex.clone()))
        }
        TargetKind::Uis => {
            needs_record(&mappings.uis, FORWARD_RECORD, target.kind)?;
            Arc::new(UisClient::new(target, mappings.uis.clone()))
        }
        TargetKind::Nats => Arc::new(NatsTarget::new(target, gateway_id, lease)),
    })
}

pub fn options(settings: &ForwardingSettings, shutdown_grace: Duration) -> ForwarderOptions {
    ForwarderOptions {
        lease: Duration::from_secs_f64(settings.lease_secs),
        poll_interval: Duration::from_millis(settings.poll_interval_ms),
        retry: RetryPolicy::from(&settings.retry),
        shutdown_grace,
    }
}

//! `GET /api/v1/stream`: Server-Sent Events for a live dashboard. `event: snapshot` carries the
//! overview (`overview.rs`) at once, then again whenever a task or node changed, at most once
//! a second; a comment line keeps idle connections open through proxies. A snapshot that cannot
//! be read (the coordinator away) is sent as `event: error` with `{"error": "..."}`, once per
//! distinct error, and the stream goes on.
//!
//! Polled rather than pushed: status reports and checkpoints change without a coordinator
//! notice, and one read a second per open dashboard is cheap next to what the nodes write.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde_json::json;
use tokio::time::{interval, Interval, MissedTickBehavior};

use super::overview::{snapshot, Snapshot};
use super::{AppState, Caller};

/// The shortest time between two snapshots (and how often changes are looked for).
const EVERY: Duration = Duration::from_secs(1);
/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What one open stream remembers between polls.
struct Watch {
    state: AppState,
    ticks: Interval,
    last: Option<Snapshot>,
    last_error: Option<String>,
}

impl Watch {
    /// Waits for the next snapshot that differs from the last one sent (or a new error).
    async fn next_event(&mut self) -> Event {
        loop {
            self.ticks.tick().await;
            match snapshot(&self.state).await {
                Ok(now) if self.last.as_ref().is_some_and(|last| last.same_as(&now)) => {}
                Ok(now) => {
                    self.last_error = None;
                    let event = Event::default().event("snapshot").json_data(&now);
                    self.last = Some(now);
                    match event {
                        Ok(event) => return event,
                        Err(e) => tracing::error!("The overview cannot be sent as JSON: {e}."),
                    }
                }
                Err(e) => {
                    let error = e.to_string();
                    if self.last_error.as_ref() != Some(&error) {
                        self.last_error = Some(error.clone());
                        return Event::default()
                            .event("error")
                            .data(json!({ "error": error }).to_string());
                    }
                }
            }
        }
    }
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    tracing::debug!(user = %caller.name, "User `{}` opened the event stream.", caller.name);
    let mut ticks = interval(EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let watch = Watch {
        state,
        ticks,
        last: None,
        last_error: None,
    };
    let events = stream::unfold(watch, |mut watch| async move {
        let event = watch.next_event().await;
        Some((Ok(event), watch))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

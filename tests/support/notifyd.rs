//! A private session bus (`dbus-daemon`) with an `org.freedesktop.Notifications` server that
//! records every call and says, as asked, whether it shows action buttons; the test clicks a
//! button by emitting `ActionInvoked` from the server's connection, as a real server does. Also
//! a desktop portal (`org.freedesktop.portal.OpenURI`) that records the URIs it is asked to open.
//! Included with `#[path]` by the tests that use it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One recorded `Notify` call.
#[derive(Clone, Debug)]
pub struct Call {
    pub id: u32,
    pub app: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub image_path: Option<String>,
}

impl Call {
    /// The action keys (every other entry of `actions`).
    pub fn action_keys(&self) -> Vec<&str> {
        self.actions.iter().step_by(2).map(String::as_str).collect()
    }
}

#[derive(Clone, Default)]
pub struct Server {
    pub calls: Arc<Mutex<Vec<Call>>>,
    /// "actions" in `GetCapabilities`.
    pub actions: bool,
    /// Records each call, then never answers it.
    pub stuck: bool,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            let id = u32::try_from(calls.len() + 1).unwrap_or(u32::MAX);
            let image_path = hints
                .get("image-path")
                .and_then(|v| v.try_clone().ok())
                .and_then(|v| String::try_from(v).ok());
            calls.push(Call {
                id,
                app: app_name,
                summary,
                body,
                actions,
                image_path,
            });
            id
        };
        if self.stuck {
            std::future::pending::<()>().await;
        }
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        let mut caps = vec!["body".to_string()];
        if self.actions {
            caps.push("actions".into());
        }
        caps
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "test-notifyd".into(),
            "recoverd tests".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

impl Server {
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `n` calls were recorded (or `secs` pass); returns them all.
    pub async fn wait_calls(&self, n: usize, secs: u64) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let calls = self.calls();
            if calls.len() >= n || Instant::now() > deadline {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A desktop portal that records the URIs `OpenURI` is asked for.
#[derive(Clone, Default)]
pub struct Portal {
    pub uris: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.freedesktop.portal.OpenURI")]
impl Portal {
    #[zbus(name = "OpenURI")]
    fn open_uri(
        &self,
        _parent_window: String,
        uri: String,
        _options: HashMap<String, zbus::OwnedVariant>,
    ) -> zbus::OwnedObjectPath {
        self.uris
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(uri);
        zbus::OwnedObjectPath::try_from("/org/freedesktop/portal/desktop/request/1_1/t")
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

pub struct Bus {
    child: Child,
    pub address: String,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_bus() -> Bus {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("dbus-daemon is needed (apt-get install dbus-daemon): {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    Bus {
        child,
        address: line.trim().to_string(),
    }
}

/// Serves the notification server on the bus; the connection emits the clicks.
pub async fn serve(bus: &Bus, server: Server) -> zbus::Connection {
    zbus::connection::Builder::address(bus.address.as_str())
        .name("org.freedesktop.Notifications")
        .serve_at("/org/freedesktop/Notifications", server)
        .build()
        .await
        .unwrap_or_else(|e| panic!("cannot serve on the private bus: {e}"))
}

/// Serves the desktop portal on the bus.
pub async fn serve_portal(bus: &Bus, portal: Portal) -> zbus::Connection {
    zbus::connection::Builder::address(bus.address.as_str())
        .name("org.freedesktop.portal.Desktop")
        .serve_at("/org/freedesktop/portal/desktop", portal)
        .build()
        .await
        .unwrap_or_else(|e| panic!("cannot serve the portal on the private bus: {e}"))
}

/// The runner clicks `action` on notification `id`.
pub async fn click(server_conn: &zbus::Connection, id: u32, action: &str) {
    server_conn
        .emit_signal(
            None::<&str>,
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "ActionInvoked",
            &(id, action),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

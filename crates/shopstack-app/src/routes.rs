//! The routes, the application state they read, and the response each gives.

use std::time::Duration;

use crate::config::Config;
use crate::http::{self, Response};
use crate::json;
use crate::metrics::{self, Metrics};

/// A route; unknown paths share `Other` so that metric labels stay bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `/`: what the application is and how its configuration stands.
    Root,
    /// `/healthz`: liveness.
    Healthz,
    /// `/readyz`: readiness.
    Readyz,
    /// `/metrics`: Prometheus exposition.
    Metrics,
    /// Any other path.
    Other,
}

impl Route {
    /// The route of a request path (without its query string).
    pub fn from_path(path: &str) -> Self {
        match path {
            "/" => Self::Root,
            "/healthz" => Self::Healthz,
            "/readyz" => Self::Readyz,
            "/metrics" => Self::Metrics,
            _ => Self::Other,
        }
    }

    /// The label used in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Root => "/",
            Self::Healthz => "/healthz",
            Self::Readyz => "/readyz",
            Self::Metrics => "/metrics",
            Self::Other => "other",
        }
    }
}

/// Everything a request can read: the configuration, fixed at startup, and the metrics.
#[derive(Debug)]
pub struct App {
    config: Config,
    version: &'static str,
    metrics: Metrics,
}

impl App {
    /// The application for this configuration and version.
    pub fn new(config: Config, version: &'static str) -> Self {
        let metrics = Metrics::new(version, &config.environment, config.is_ready());
        Self {
            config,
            version,
            metrics,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counts one answered request.
    pub fn record(&self, method: &str, route: Route, status: u16, duration: Duration) {
        self.metrics
            .record(http::method_label(method), route, status, duration);
    }

    /// The response to `method` on `route`; the body is kept for HEAD too, for its length.
    pub fn respond(&self, method: &str, route: Route) -> Response {
        if route == Route::Other {
            return Response::text(404, "not found\n");
        }
        if !matches!(method, "GET" | "HEAD") {
            return Response::text(405, "method not allowed\n").with_header("Allow", "GET, HEAD");
        }
        match route {
            Route::Healthz => Response::text(200, "ok\n"),
            Route::Readyz => self.readiness(),
            Route::Metrics => Response::new(200, metrics::CONTENT_TYPE, self.metrics.render()),
            Route::Root => Response::new(200, "application/json", self.summary()),
            Route::Other => Response::text(404, "not found\n"),
        }
    }

    fn readiness(&self) -> Response {
        if self.config.is_ready() {
            Response::text(200, "ready\n")
        } else {
            let missing = self.config.missing_keys.join(", ");
            Response::text(503, &format!("not ready: missing {missing}\n"))
        }
    }

    fn summary(&self) -> String {
        format!(
            "{{\"app\":\"shopstack-app\",\"version\":{},\"environment\":{},\"config_keys\":{},\"missing_keys\":{},\"ready\":{}}}\n",
            json::string(self.version),
            json::string(&self.config.environment),
            json::string_array(&self.config.present_keys),
            json::string_array(&self.config.missing_keys),
            self.config.is_ready(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(present: &[&str], missing: &[&str]) -> App {
        let config = Config {
            environment: "dev".to_owned(),
            present_keys: present.iter().map(|key| (*key).to_owned()).collect(),
            missing_keys: missing.iter().map(|key| (*key).to_owned()).collect(),
        };
        App::new(config, "1.2.3")
    }

    fn body(response: &Response) -> &str {
        std::str::from_utf8(&response.body).expect("UTF-8 body")
    }

    #[test]
    fn paths_map_to_bounded_routes() {
        assert_eq!(Route::from_path("/"), Route::Root);
        assert_eq!(Route::from_path("/readyz"), Route::Readyz);
        assert_eq!(Route::from_path("/readyz/"), Route::Other);
        assert_eq!(Route::from_path("/admin"), Route::Other);
        assert_eq!(Route::Other.label(), "other");
    }

    #[test]
    fn readyz_names_missing_keys_and_answers_503() {
        let response =
            app(&["GREETING"], &["A_KEY", "SESSION_SECRET"]).respond("GET", Route::Readyz);
        assert_eq!(response.status, 503);
        assert_eq!(
            body(&response),
            "not ready: missing A_KEY, SESSION_SECRET\n"
        );
    }

    #[test]
    fn readyz_answers_200_when_nothing_is_missing() {
        let response = app(&["GREETING"], &[]).respond("GET", Route::Readyz);
        assert_eq!(response.status, 200);
    }

    #[test]
    fn root_is_json_with_names_and_readiness() {
        let response = app(&["GREETING"], &["SESSION_SECRET"]).respond("GET", Route::Root);
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, "application/json");
        assert_eq!(
            body(&response),
            "{\"app\":\"shopstack-app\",\"version\":\"1.2.3\",\"environment\":\"dev\",\
             \"config_keys\":[\"GREETING\"],\"missing_keys\":[\"SESSION_SECRET\"],\"ready\":false}\n"
        );
    }

    #[test]
    fn other_methods_get_405_with_allow() {
        let response = app(&[], &[]).respond("DELETE", Route::Healthz);
        assert_eq!(response.status, 405);
        assert!(
            response
                .headers
                .iter()
                .any(|(name, value)| *name == "Allow" && value == "GET, HEAD")
        );
    }

    #[test]
    fn unknown_paths_get_404_whatever_the_method() {
        assert_eq!(app(&[], &[]).respond("GET", Route::Other).status, 404);
        assert_eq!(app(&[], &[]).respond("POST", Route::Other).status, 404);
    }
}

//! Names and labels derived from an app and a deployment. Both the worker (which sets
//! them) and the reconciler (which finds containers by them) use these functions, so the
//! derivation lives in one place.

use std::collections::HashMap;

pub const LABEL_MANAGED: &str = "slipway.managed";
pub const LABEL_APP: &str = "slipway.app";
pub const LABEL_APP_ID: &str = "slipway.app.id";
pub const LABEL_DEPLOYMENT_ID: &str = "slipway.deployment.id";
pub const LABEL_PROCESS: &str = "slipway.process";

/// Where the app is routed: everything Traefik and the container need to know.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    pub app: &'a str,
    pub subdomain: &'a str,
    pub base_domain: &'a str,
    pub network: &'a str,
    pub port: u16,
}

pub fn image_repository(app: &str) -> String {
    format!("slipway-{app}")
}

pub fn image_tag(app: &str, deployment_id: &str) -> String {
    format!("{}:{deployment_id}", image_repository(app))
}

pub fn container_name(app: &str, deployment_id: &str) -> String {
    format!("{app}-{deployment_id}")
}

pub fn host(subdomain: &str, base_domain: &str) -> String {
    format!("{subdomain}.{base_domain}")
}

/// Labels that mark a container or image as Slipway's and say whose it is.
pub fn ownership_labels(
    app: &str,
    app_id: &str,
    deployment_id: &str,
    process: &str,
) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_APP.to_owned(), app.to_owned()),
        (LABEL_APP_ID.to_owned(), app_id.to_owned()),
        (LABEL_DEPLOYMENT_ID.to_owned(), deployment_id.to_owned()),
        (LABEL_PROCESS.to_owned(), process.to_owned()),
    ])
}

/// Traefik docker-provider labels. The router and service are named after the app, not
/// the deployment, so while an old and a new release overlap Traefik merges them into one
/// service and balances across both: that overlap is what makes releases zero-downtime.
pub fn traefik_labels(route: &Route<'_>) -> HashMap<String, String> {
    let name = format!("slipway-{}", route.app);
    let host = host(route.subdomain, route.base_domain);
    HashMap::from([
        ("traefik.enable".to_owned(), "true".to_owned()),
        (
            "traefik.docker.network".to_owned(),
            route.network.to_owned(),
        ),
        (
            format!("traefik.http.routers.{name}.rule"),
            format!("Host(`{host}`)"),
        ),
        (
            format!("traefik.http.routers.{name}.entrypoints"),
            "web".to_owned(),
        ),
        (format!("traefik.http.routers.{name}.service"), name.clone()),
        (
            format!("traefik.http.services.{name}.loadbalancer.server.port"),
            route.port.to_string(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traefik_labels_route_the_subdomain_to_the_port() {
        let labels = traefik_labels(&Route {
            app: "hello",
            subdomain: "hello",
            base_domain: "example.com",
            network: "slipway",
            port: 3000,
        });
        assert_eq!(labels["traefik.enable"], "true");
        assert_eq!(labels["traefik.docker.network"], "slipway");
        assert_eq!(
            labels["traefik.http.routers.slipway-hello.rule"],
            "Host(`hello.example.com`)"
        );
        assert_eq!(
            labels["traefik.http.routers.slipway-hello.entrypoints"],
            "web"
        );
        assert_eq!(
            labels["traefik.http.services.slipway-hello.loadbalancer.server.port"],
            "3000"
        );
    }

    #[test]
    fn names() {
        assert_eq!(image_tag("hello", "d1"), "slipway-hello:d1");
        assert_eq!(container_name("hello", "d1"), "hello-d1");
        let own = ownership_labels("hello", "a1", "d1", "web");
        assert_eq!(own[LABEL_MANAGED], "true");
        assert_eq!(own[LABEL_DEPLOYMENT_ID], "d1");
    }
}

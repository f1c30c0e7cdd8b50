//! Names and labels derived from an app and a deployment. Both the worker (which sets
//! them) and the reconciler (which finds containers by them) use these functions, so the
//! derivation lives in one place.

use std::collections::HashMap;

pub const LABEL_MANAGED: &str = "slipway.managed";
pub const LABEL_APP: &str = "slipway.app";
pub const LABEL_APP_ID: &str = "slipway.app.id";
pub const LABEL_DEPLOYMENT_ID: &str = "slipway.deployment.id";
pub const LABEL_PROCESS: &str = "slipway.process";
/// On app containers and app networks: the shared network (SLIPWAY_NETWORK) of the
/// Slipway instance they belong to, so instances on one Docker host keep apart.
pub const LABEL_NETWORK: &str = "slipway.network";
/// On containers that every app network must reach (Traefik, and the worker, which
/// health-checks replicas by address): `true` makes the worker connect them to each
/// app network. They must also be on SLIPWAY_NETWORK.
pub const LABEL_JOINS_APP_NETWORKS: &str = "slipway.joins-app-networks";

/// The app's own network: its containers join only this one, so apps cannot reach each
/// other, and Traefik joins it to route to them.
pub fn app_network(shared: &str, app: &str) -> String {
    format!("{shared}-app-{app}")
}

/// Where the app is routed: everything Traefik and the container need to know.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    pub app: &'a str,
    pub subdomain: &'a str,
    pub base_domain: &'a str,
    pub network: &'a str,
    pub port: u16,
    /// HTTPS through the `letsencrypt` resolver, with HTTP redirected to it.
    pub tls: bool,
}

/// Traefik's certificate resolver and redirect middleware (see traefik/).
pub const CERT_RESOLVER: &str = "letsencrypt";
pub const HTTPS_REDIRECT: &str = "slipway-https-redirect@file";

pub fn image_repository(app: &str) -> String {
    format!("slipway-{app}")
}

/// `<app>-<process>-<replica>-<deployment suffix>`: readable in `docker ps`, and the
/// same on a retry, so a retried release replaces what a lost attempt started. The
/// suffix is the random tail of the deployment's UUIDv7 (its head is a timestamp that
/// neighbouring deployments share).
pub fn container_name(app: &str, deployment_id: &str, process: &str, replica: u32) -> String {
    let hex: String = deployment_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    let suffix = &hex[hex.len().saturating_sub(12)..];
    format!("{app}-{process}-{replica}-{suffix}")
}

pub fn host(subdomain: &str, base_domain: &str) -> String {
    format!("{subdomain}.{base_domain}")
}

/// Labels that mark a container or image as Slipway's and say whose it is.
pub fn ownership_labels(
    shared_network: &str,
    app: &str,
    app_id: &str,
    deployment_id: &str,
    process: &str,
) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_NETWORK.to_owned(), shared_network.to_owned()),
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
    let rule = format!("Host(`{}`)", host(route.subdomain, route.base_domain));
    let router = |key: &str| format!("traefik.http.routers.{name}.{key}");
    let mut labels = HashMap::from([
        ("traefik.enable".to_owned(), "true".to_owned()),
        (
            "traefik.docker.network".to_owned(),
            route.network.to_owned(),
        ),
        (router("rule"), rule.clone()),
        (router("service"), name.clone()),
        (
            format!("traefik.http.services.{name}.loadbalancer.server.port"),
            route.port.to_string(),
        ),
    ]);
    if route.tls {
        labels.insert(router("entrypoints"), "websecure".to_owned());
        labels.insert(router("tls"), "true".to_owned());
        labels.insert(router("tls.certresolver"), CERT_RESOLVER.to_owned());
        // Plain HTTP gets its own router whose only job is the redirect.
        let http = |key: &str| format!("traefik.http.routers.{name}-http.{key}");
        labels.insert(http("rule"), rule);
        labels.insert(http("entrypoints"), "web".to_owned());
        labels.insert(http("middlewares"), HTTPS_REDIRECT.to_owned());
        labels.insert(http("service"), name.clone());
    } else {
        labels.insert(router("entrypoints"), "web".to_owned());
    }
    labels
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
            tls: false,
        });
        assert_eq!(labels.len(), 6, "{labels:?}");
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
    fn with_tls_the_router_uses_the_resolver_and_http_redirects() {
        let labels = traefik_labels(&Route {
            app: "hello",
            subdomain: "hello",
            base_domain: "example.com",
            network: "slipway",
            port: 3000,
            tls: true,
        });
        let expected: HashMap<String, String> = [
            ("traefik.enable", "true"),
            ("traefik.docker.network", "slipway"),
            (
                "traefik.http.routers.slipway-hello.rule",
                "Host(`hello.example.com`)",
            ),
            (
                "traefik.http.routers.slipway-hello.entrypoints",
                "websecure",
            ),
            ("traefik.http.routers.slipway-hello.tls", "true"),
            (
                "traefik.http.routers.slipway-hello.tls.certresolver",
                "letsencrypt",
            ),
            (
                "traefik.http.routers.slipway-hello.service",
                "slipway-hello",
            ),
            (
                "traefik.http.routers.slipway-hello-http.rule",
                "Host(`hello.example.com`)",
            ),
            ("traefik.http.routers.slipway-hello-http.entrypoints", "web"),
            (
                "traefik.http.routers.slipway-hello-http.middlewares",
                "slipway-https-redirect@file",
            ),
            (
                "traefik.http.routers.slipway-hello-http.service",
                "slipway-hello",
            ),
            (
                "traefik.http.services.slipway-hello.loadbalancer.server.port",
                "3000",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(labels, expected);
    }

    #[test]
    fn names() {
        assert_eq!(
            container_name("hello", "01a2074c-f2a9-74c3-915b-45a73c144cca", "web", 2),
            "hello-web-2-45a73c144cca"
        );
        let own = ownership_labels("slipway", "hello", "a1", "d1", "web");
        assert_eq!(own[LABEL_MANAGED], "true");
        assert_eq!(own[LABEL_DEPLOYMENT_ID], "d1");
        assert_eq!(own[LABEL_NETWORK], "slipway");
        assert_eq!(app_network("slipway", "hello"), "slipway-app-hello");
    }
}

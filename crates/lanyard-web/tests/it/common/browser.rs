//! A browser stand-in over [`TestApp::send`]: a cookie jar, form posts, a
//! client address of its choosing, and the sign-in dance.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};

use super::{Resp, TestApp};

pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    /// The TCP peer the server sees.
    pub addr: SocketAddr,
    /// Sent as `Origin` on POSTs when set.
    pub origin: Option<String>,
    /// Sent with every request (e.g. `X-Forwarded-For`).
    pub extra_headers: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: BTreeMap::new(),
            addr: SocketAddr::from(([192, 0, 2, 7], 40000)),
            origin: Some("http://127.0.0.1:8080".into()),
            extra_headers: Vec::new(),
        }
    }

    /// A browser at an address no other `elsewhere` browser of this process
    /// had (198.51.100.0/24 and 203.0.113.0/24, in turn), for failures that
    /// must reach an account's counter without the per-address throttle.
    pub fn elsewhere(app: &'a TestApp) -> Self {
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 500;
        let ip = if n < 250 {
            [198, 51, 100, (n + 1) as u8]
        } else {
            [203, 0, 113, (n - 249) as u8]
        };
        Browser::new(app).at_addr(ip)
    }

    /// The same browser sending `name: value` with every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// The same browser seen from another address.
    pub fn at_addr(mut self, ip: [u8; 4]) -> Self {
        self.addr = SocketAddr::from((ip, 40000));
        self
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> Resp {
        let body = form.map(|f| {
            (
                "application/x-www-form-urlencoded".to_owned(),
                f.into_bytes(),
            )
        });
        self.send_body(method, path, body).await
    }

    async fn send_body(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Resp {
        let mut b = Request::builder().method(method.clone()).uri(path);
        if !self.cookies.is_empty() {
            b = b.header(COOKIE, self.cookie_header());
        }
        for (name, value) in &self.extra_headers {
            b = b.header(name.as_str(), value.as_str());
        }
        if method == Method::POST {
            if let Some(o) = &self.origin {
                b = b.header("origin", o.as_str());
            }
        }
        let body = match body {
            Some((content_type, bytes)) => {
                b = b.header("content-type", content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let mut req = b.body(body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.addr));
        let resp = self.app.send(req).await;
        for v in resp.headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        resp
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(Method::POST, path, Some(body)).await
    }

    /// A `multipart/form-data` POST: text `fields`, then `files` as
    /// (field, file name, bytes).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Resp {
        const BOUNDARY: &str = "lanyard-test-boundary-7d1f";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, file_name, bytes) in files {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.send_body(Method::POST, path, Some((content_type, body)))
            .await
    }

    /// `GET /login`, then posts the form with its CSRF token; returns the
    /// POST's response.
    pub async fn sign_in(&mut self, login: &str, password: &str) -> Resp {
        self.sign_in_to(login, password, "").await
    }

    pub async fn sign_in_to(&mut self, login: &str, password: &str, next: &str) -> Resp {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let csrf = hidden(&page.text(), "csrf").expect("a csrf field");
        self.post(
            "/login",
            &[
                ("login", login),
                ("password", password),
                ("csrf", &csrf),
                ("next", next),
            ],
        )
        .await
    }

    /// The CSRF token of the page at `path` (a signed-in page).
    pub async fn csrf_of(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text());
        hidden(&page.text(), "csrf").expect("a csrf field")
    }
}

impl Browser<'_> {
    /// Submits the checkbox list `name` of the page at `page` as a browser
    /// would, with `ticked` ticked: the CSRF token and the list's hidden
    /// `<name>_shown` / `<name>_was` fields as the page rendered them.
    pub async fn save_checkboxes(
        &mut self,
        page: &str,
        action: &str,
        name: &str,
        ticked: &[i64],
    ) -> Resp {
        let html = self.get(page).await.text();
        let mut fields: Vec<(String, String)> =
            vec![("csrf".into(), hidden(&html, "csrf").expect("a csrf field"))];
        for field in [format!("{name}_shown"), format!("{name}_was")] {
            for value in hidden_all(&html, &field) {
                fields.push((field.clone(), value));
            }
        }
        for id in ticked {
            fields.push((name.to_owned(), id.to_string()));
        }
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post(action, &pairs).await
    }
}

/// The values of every input named `name` in `html`.
pub fn hidden_all(html: &str, name: &str) -> Vec<String> {
    let needle = format!("name=\"{name}\" value=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

/// The value of the (first) input named `name` in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The `Location` header of a redirect.
pub fn location(r: &Resp) -> &str {
    r.headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location: {} {}", r.status, r.text()))
        .to_str()
        .unwrap()
}

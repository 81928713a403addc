//! Fakes of AWS endpoints on 127.0.0.1: a small HTTP server in a thread that records every
//! request and answers through a handler. Point `AWS_ENDPOINT_URL_<SERVICE>` at `url()`; tests
//! then count and inspect what the binary sent, and nothing leaves the machine.

/// The Identity Center user, permission set and role credentials the SSO and login tests sign
/// in with.
pub mod identity_center {
    pub const ROLE_ACCESS_KEY_ID: &str = "ASIAROLEEXAMPLE12345";
    pub const ROLE_SECRET_ACCESS_KEY: &str = "roleSecretKeyEXAMPLE/abcdefghijKLMNOPqrs";
    pub const ROLE_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEroleSessionToken+xyz/abc==";
    pub const ACCOUNT_ID: &str = "123456789012";
    pub const ROLE_NAME: &str = "DBAccess";
    pub const START_URL: &str = "https://corp.awsapps.com/start";
    pub const IDENTITY_CENTER_ARN: &str =
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DBAccess_abc/jane.doe";
}

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the server received it (header names lower-cased).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    /// A query parameter, as sent (the tests use values that need no decoding).
    pub fn query(&self, name: &str) -> Option<&str> {
        let query = self.url.split_once('?')?.1;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub fn xml(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: body.into(),
        }
    }

    /// A restJson1 error, the shape the SSO and SSO OIDC clients parse into a typed error.
    pub fn aws_json_error(status: u16, code: &str, message: &str) -> Reply {
        let mut reply = Reply::json(
            status,
            serde_json::json!({"__type": code, "message": message}).to_string(),
        );
        reply.headers.push(("x-amzn-errortype".into(), code.into()));
        reply
    }
}

type Handler = Box<dyn Fn(&Request) -> Reply + Send>;

pub struct FakeAws {
    server: Arc<tiny_http::Server>,
    url: String,
    log: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeAws {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + 'static) -> FakeAws {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let address = server.server_addr().to_ip().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, log) = (server.clone(), log.clone());
            let handler: Handler = Box::new(handler);
            std::thread::spawn(move || serve(&server, &log, &handler))
        };
        FakeAws {
            server,
            url: format!("http://{address}"),
            log,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn hits(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, log: &Mutex<Vec<Request>>, handler: &Handler) {
    // recv fails once `unblock` is called from Drop.
    while let Ok(mut incoming) = server.recv() {
        let mut body = String::new();
        let _ = incoming.as_reader().read_to_string(&mut body);
        let request = Request {
            method: incoming.method().to_string(),
            url: incoming.url().to_string(),
            headers: incoming
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect(),
            body,
        };
        log.lock().unwrap().push(request.clone());
        let reply = handler(&request);
        let mut response =
            tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
        for (name, value) in reply.headers {
            response.add_header(
                tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap(),
            );
        }
        let _ = incoming.respond(response);
    }
}

/// What the SSO portal hands out for a role.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration_millis: i64,
}

/// The IAM Identity Center portal's GetRoleCredentials, as the real one behaves: it answers
/// only the bearer token it issued (`accepted_token`) for the one role and account assigned.
pub fn sso_portal(
    accepted_token: &str,
    account_id: &str,
    role_name: &str,
    credentials: RoleCredentials,
) -> FakeAws {
    let (token, account, role) = (
        accepted_token.to_string(),
        account_id.to_string(),
        role_name.to_string(),
    );
    FakeAws::start(move |request| {
        if request.method != "GET" || request.path() != "/federation/credentials" {
            return Reply::aws_json_error(404, "NotFoundException", "no such operation");
        }
        if request.header("x-amz-sso_bearer_token") != Some(token.as_str()) {
            return Reply::aws_json_error(
                401,
                "UnauthorizedException",
                "Session token not found or invalid",
            );
        }
        if request.query("account_id") != Some(account.as_str())
            || request.query("role_name") != Some(role.as_str())
        {
            return Reply::aws_json_error(403, "ForbiddenException", "No access");
        }
        let body = serde_json::json!({"roleCredentials": {
            "accessKeyId": credentials.access_key_id,
            "secretAccessKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
            "expiration": credentials.expiration_millis,
        }});
        Reply::json(200, body.to_string())
    })
}

/// SSO OIDC (`POST /token`, CreateToken), answering every request with `reply`.
pub fn sso_oidc(reply: impl Fn() -> Reply + Send + 'static) -> FakeAws {
    FakeAws::start(move |request| {
        if request.method != "POST" || request.path() != "/token" {
            return Reply::aws_json_error(404, "NotFoundException", "no such operation");
        }
        reply()
    })
}

/// An SSO OIDC that refuses every refresh, as it does for a revoked or expired session.
pub fn sso_oidc_refusing() -> FakeAws {
    sso_oidc(|| {
        Reply::aws_json_error(
            400,
            "InvalidGrantException",
            "Refresh token has expired or been revoked",
        )
    })
}

/// STS, answering every GetCallerIdentity with `reply` (see `caller_identity`, `sts_error`).
pub fn sts(reply: impl Fn() -> Reply + Send + 'static) -> FakeAws {
    FakeAws::start(move |request| {
        if request.method != "POST" || !request.body.contains("Action=GetCallerIdentity") {
            return sts_error(400, "InvalidAction", "only GetCallerIdentity is faked");
        }
        reply()
    })
}

/// A GetCallerIdentity answer for a caller with `arn` (XML-escaped by the caller if needed).
pub fn caller_identity(arn: &str) -> Reply {
    Reply::xml(
        200,
        format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AROAEXAMPLE:session</UserId>\
             <Account>123456789012</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
             </GetCallerIdentityResponse>"
        ),
    )
}

/// An STS error in its awsQuery XML shape.
pub fn sts_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>r</RequestId></ErrorResponse>"
        ),
    )
}

/// A catch-all for `AWS_ENDPOINT_URL`: any service without its own fake lands here, and
/// a test asserts it was never called.
pub fn unexpected() -> FakeAws {
    FakeAws::start(|_| Reply::aws_json_error(400, "UnexpectedCall", "no fake for this service"))
}

/// Where a run's AWS calls go: each faked service by its `AWS_ENDPOINT_URL_<SERVICE>`, and
/// every other service to the catch-all `unexpected()`, so nothing can reach the real AWS.
pub struct Endpoints {
    services: Vec<(String, String)>,
    /// The fakes no test inspects, alive as long as the endpoints are.
    owned: Vec<FakeAws>,
    other: FakeAws,
}

impl Endpoints {
    pub fn new() -> Endpoints {
        Endpoints {
            services: Vec::new(),
            owned: Vec::new(),
            other: unexpected(),
        }
    }

    /// `service` (as its variable spells it: `STS`, `SSO_OIDC`) answered by `fake`, which the
    /// test keeps to inspect.
    pub fn with(mut self, service: &str, fake: &FakeAws) -> Endpoints {
        self.services.push((
            format!("AWS_ENDPOINT_URL_{service}"),
            fake.url().to_string(),
        ));
        self
    }

    /// `service` answered by `fake`, which these endpoints keep.
    pub fn serve(mut self, service: &str, fake: FakeAws) -> Endpoints {
        self = self.with(service, &fake);
        self.owned.push(fake);
        self
    }

    /// The variables, for a command this harness does not build (a shell, botocore).
    pub fn env(&self) -> Vec<(String, String)> {
        let catch_all = ("AWS_ENDPOINT_URL".to_string(), self.other.url().to_string());
        self.services.iter().cloned().chain([catch_all]).collect()
    }

    pub fn apply<'c>(&self, cmd: &'c mut std::process::Command) -> &'c mut std::process::Command {
        cmd.envs(self.env())
    }

    #[track_caller]
    pub fn assert_no_other_service_called(&self) {
        assert_eq!(self.other.hits(), 0, "an unexpected AWS service was called");
    }
}

/// The AWS side a test writes: an account with RDS instances, clusters and proxies, a caller,
/// and the IAM decision for `rds-db:connect`. `aws_query` serves it as STS, RDS and IAM (point
/// AWS_ENDPOINT_URL_STS, _RDS and _IAM at the one server; the Action tells them apart).
#[derive(Debug, Clone, Default)]
pub struct AwsState {
    pub caller_arn: String,
    /// An STS error code (e.g. ExpiredToken) GetCallerIdentity answers instead.
    pub sts_error: Option<String>,
    pub instances: Vec<FakeInstance>,
    pub clusters: Vec<FakeCluster>,
    pub proxies: Vec<FakeProxy>,
    /// The role GetRole returns for any name (with its path), or NoSuchEntity when `None`.
    pub role_arn: Option<String>,
    /// (principal ARN, resource ARN, principal tag `username`) that are allowed, and by which
    /// policy; anything else is an implicit deny.
    pub allowed: Vec<(String, String, String, String)>,
    /// For `dsql:*` actions, which name no user: (principal ARN, action, cluster ARN) that are
    /// allowed, and by which policy.
    pub allowed_dsql: Vec<(String, String, String, String)>,
    /// When set, GetCallerIdentity checks the request's SigV4 signature against this secret
    /// key (for the access key in `common::ACCESS_KEY_ID`), as STS does.
    pub sts_secret: Option<String>,
    /// Actions answered with a raw (status, body) that is no AWS error: an HTML page from a
    /// corporate proxy, a bare 500, an empty 403.
    pub broken: Vec<(String, u16, String)>,
}

#[derive(Debug, Clone)]
pub struct FakeInstance {
    pub id: String,
    pub engine: String,
    pub address: String,
    pub port: u16,
    pub iam_auth: bool,
    pub resource_id: String,
    pub cluster: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakeCluster {
    pub id: String,
    pub engine: String,
    pub writer: String,
    pub reader: String,
    pub custom: Vec<String>,
    pub port: u16,
    pub iam_auth: bool,
    pub resource_id: String,
}

#[derive(Debug, Clone)]
pub struct FakeProxy {
    pub name: String,
    pub arn: String,
    pub engine_family: String,
    pub endpoint: String,
    pub iam_auth: String,
    /// Its extra endpoints (DescribeDBProxyEndpoints).
    pub extra_endpoints: Vec<String>,
}

/// A form body's fields, decoded.
pub fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (decode(n), decode(v)))
        .collect()
}

pub fn aws_query(state: Arc<Mutex<AwsState>>) -> FakeAws {
    FakeAws::start(move |request| {
        let fields = form(&request.body);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let state = state.lock().unwrap().clone();
        if let Some((_, status, body)) = state.broken.iter().find(|(a, _, _)| *a == field("Action"))
        {
            return Reply {
                status: *status,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: body.clone(),
            };
        }
        if field("Action") == "GetCallerIdentity"
            && let Some(secret) = &state.sts_secret
            && let Err(problem) = check_sigv4(
                request,
                "sts",
                "us-east-1",
                crate::common::ACCESS_KEY_ID,
                secret,
            )
        {
            return sts_error(403, "SignatureDoesNotMatch", &problem);
        }
        match field("Action").as_str() {
            "GetCallerIdentity" => match &state.sts_error {
                Some(code) => sts_error(
                    403,
                    code,
                    "The security token included in the request is expired",
                ),
                None => caller_identity(&state.caller_arn),
            },
            "DescribeDBInstances" => rds_instances(&state.instances, &field("Marker")),
            "DescribeDBClusters" => rds_clusters(&state.clusters, &field("Marker")),
            "DescribeDBProxies" => rds_proxies(&state.proxies, &field("Marker")),
            "DescribeDBProxyEndpoints" => rds_proxy_endpoints(&state.proxies, &field("Marker")),
            "GetRole" => match &state.role_arn {
                Some(arn) => iam_role(arn, &field("RoleName")),
                None => iam_error(404, "NoSuchEntity", "The role cannot be found."),
            },
            "SimulatePrincipalPolicy" if field("ActionNames.member.1").starts_with("dsql:") => {
                let key = (
                    field("PolicySourceArn"),
                    field("ActionNames.member.1"),
                    field("ResourceArns.member.1"),
                );
                let allowed = state
                    .allowed_dsql
                    .iter()
                    .find(|(p, a, r, _)| (p, a, r) == (&key.0, &key.1, &key.2));
                simulate_result(
                    &key.1,
                    &key.2,
                    allowed.map(|(_, _, _, policy)| policy.as_str()),
                )
            }
            "SimulatePrincipalPolicy" => {
                let key = (
                    field("PolicySourceArn"),
                    field("ResourceArns.member.1"),
                    field("ContextEntries.member.1.ContextKeyValues.member.1"),
                );
                let tag_key = field("ContextEntries.member.1.ContextKeyName");
                let allowed = state.allowed.iter().find(|(p, r, t, _)| {
                    (p, r, t) == (&key.0, &key.1, &key.2) && tag_key == "aws:PrincipalTag/username"
                });
                simulate_result(
                    "rds-db:connect",
                    &key.1,
                    allowed.map(|(_, _, _, policy)| policy.as_str()),
                )
            }
            other => iam_error(400, "InvalidAction", &format!("{other} is not faked")),
        }
    })
}

/// One item a page, as RDS pages its Describe* results, so the binary must follow `Marker`:
/// the page that `marker` (the index of its first item) starts, and the next page's marker.
fn page<'a, T>(items: &'a [T], marker: &str) -> (&'a [T], String) {
    let start = marker.parse::<usize>().unwrap_or(0).min(items.len());
    let end = (start + 1).min(items.len());
    let next = match end < items.len() {
        true => format!("<Marker>{end}</Marker>"),
        false => String::new(),
    };
    (&items[start..end], next)
}

fn rds_instances(instances: &[FakeInstance], marker: &str) -> Reply {
    let (instances, next) = page(instances, marker);
    let mut items = String::new();
    for i in instances {
        items.push_str(&format!(
            "<DBInstance><DBInstanceIdentifier>{}</DBInstanceIdentifier><Engine>{}</Engine>\
             <Endpoint><Address>{}</Address><Port>{}</Port></Endpoint>\
             <IAMDatabaseAuthenticationEnabled>{}</IAMDatabaseAuthenticationEnabled>\
             <DbiResourceId>{}</DbiResourceId>{}</DBInstance>",
            i.id,
            i.engine,
            i.address,
            i.port,
            i.iam_auth,
            i.resource_id,
            i.cluster
                .as_ref()
                .map(|c| format!("<DBClusterIdentifier>{c}</DBClusterIdentifier>"))
                .unwrap_or_default()
        ));
    }
    rds_reply(
        "DescribeDBInstances",
        &format!("<DBInstances>{items}</DBInstances>{next}"),
    )
}

fn rds_clusters(clusters: &[FakeCluster], marker: &str) -> Reply {
    let (clusters, next) = page(clusters, marker);
    let mut items = String::new();
    for c in clusters {
        let custom: String = c
            .custom
            .iter()
            .map(|e| format!("<member>{e}</member>"))
            .collect();
        items.push_str(&format!(
            "<DBCluster><DBClusterIdentifier>{}</DBClusterIdentifier><Engine>{}</Engine>\
             <Endpoint>{}</Endpoint><ReaderEndpoint>{}</ReaderEndpoint>\
             <CustomEndpoints>{custom}</CustomEndpoints><Port>{}</Port>\
             <IAMDatabaseAuthenticationEnabled>{}</IAMDatabaseAuthenticationEnabled>\
             <DbClusterResourceId>{}</DbClusterResourceId></DBCluster>",
            c.id, c.engine, c.writer, c.reader, c.port, c.iam_auth, c.resource_id
        ));
    }
    rds_reply(
        "DescribeDBClusters",
        &format!("<DBClusters>{items}</DBClusters>{next}"),
    )
}

fn rds_proxies(proxies: &[FakeProxy], marker: &str) -> Reply {
    let (proxies, next) = page(proxies, marker);
    let mut items = String::new();
    for p in proxies {
        items.push_str(&format!(
            "<member><DBProxyName>{}</DBProxyName><DBProxyArn>{}</DBProxyArn>\
             <EngineFamily>{}</EngineFamily><Endpoint>{}</Endpoint>\
             <Auth><member><AuthScheme>SECRETS</AuthScheme><IAMAuth>{}</IAMAuth></member></Auth>\
             <RequireTLS>true</RequireTLS></member>",
            p.name, p.arn, p.engine_family, p.endpoint, p.iam_auth
        ));
    }
    rds_reply(
        "DescribeDBProxies",
        &format!("<DBProxies>{items}</DBProxies>{next}"),
    )
}

fn rds_proxy_endpoints(proxies: &[FakeProxy], marker: &str) -> Reply {
    let endpoints: Vec<(&str, usize, &String)> = proxies
        .iter()
        .flat_map(|p| {
            p.extra_endpoints
                .iter()
                .enumerate()
                .map(move |(i, e)| (p.name.as_str(), i, e))
        })
        .collect();
    let (endpoints, next) = page(&endpoints, marker);
    let mut items = String::new();
    for (name, i, endpoint) in endpoints {
        items.push_str(&format!(
            "<member><DBProxyEndpointName>{name}-{i}</DBProxyEndpointName>\
             <DBProxyName>{name}</DBProxyName><Endpoint>{endpoint}</Endpoint>\
             <TargetRole>READ_ONLY</TargetRole></member>"
        ));
    }
    rds_reply(
        "DescribeDBProxyEndpoints",
        &format!("<DBProxyEndpoints>{items}</DBProxyEndpoints>{next}"),
    )
}

fn rds_reply(action: &str, result: &str) -> Reply {
    Reply::xml(
        200,
        format!(
            "<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
             <{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
        ),
    )
}

fn iam_role(arn: &str, name: &str) -> Reply {
    Reply::xml(
        200,
        format!(
            "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult>\
             <Role><Path>/</Path><Arn>{arn}</Arn><RoleName>{name}</RoleName><RoleId>AROAEXAMPLE</RoleId>\
             <CreateDate>2024-01-01T00:00:00Z</CreateDate></Role></GetRoleResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRoleResponse>"
        ),
    )
}

fn simulate_result(action: &str, resource: &str, allowed_by: Option<&str>) -> Reply {
    let (decision, statements) = match allowed_by {
        Some(policy) => (
            "allowed",
            format!(
                "<MatchedStatements><member><SourcePolicyId>{policy}</SourcePolicyId>\
                 <SourcePolicyType>IAM Policy</SourcePolicyType></member></MatchedStatements>"
            ),
        ),
        None => ("implicitDeny", "<MatchedStatements/>".to_string()),
    };
    Reply::xml(
        200,
        format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member>\
             <EvalActionName>{action}</EvalActionName><EvalResourceName>{resource}</EvalResourceName>\
             <EvalDecision>{decision}</EvalDecision>{statements}<MissingContextValues/>\
             </member></EvaluationResults></SimulatePrincipalPolicyResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
        ),
    )
}

/// An IAM (or RDS) error in the awsQuery XML shape.
pub fn iam_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::xml(
        status,
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
             </Error><RequestId>r</RequestId></ErrorResponse>"
        ),
    )
}

/// The Aurora DSQL control plane a test writes: its clusters (id, status) and which calls the
/// caller may not make. `dsql` serves it.
#[derive(Debug, Clone, Default)]
pub struct DsqlState {
    pub clusters: Vec<(String, String)>,
    /// AccessDeniedException for GetCluster / ListClusters.
    pub deny_get: bool,
    pub deny_list: bool,
}

pub const DSQL_ACCOUNT: &str = "123456789012";

/// The DSQL control plane (restJson1, as aws-sdk-dsql 1.79's protocol_serde reads it):
/// `GET /cluster/{identifier}` (GetCluster) and `GET /cluster?max-results=&next-token=`
/// (ListClusters, one cluster a page so that the SDK's paginator has to follow `nextToken`).
/// Errors carry `x-amzn-errortype`. Every request must carry a SigV4 signature for service
/// `dsql` in `region`, made with `access_key_id` and `secret`, or it is refused as AWS would.
pub fn dsql(
    state: Arc<Mutex<DsqlState>>,
    region: &str,
    access_key_id: &str,
    secret: &str,
) -> FakeAws {
    let (region, access_key_id, secret) = (
        region.to_string(),
        access_key_id.to_string(),
        secret.to_string(),
    );
    FakeAws::start(move |request| {
        if let Err(problem) = check_sigv4(request, "dsql", &region, &access_key_id, &secret) {
            return Reply::aws_json_error(403, "InvalidSignatureException", &problem);
        }
        let state = state.lock().unwrap().clone();
        let denied = |operation: &str| {
            Reply::aws_json_error(
                403,
                "AccessDeniedException",
                &format!(
                    "User: arn:aws:sts::{DSQL_ACCOUNT}:assumed-role/x/jane is not authorized to perform: dsql:{operation}"
                ),
            )
        };
        let arn = |id: &str| format!("arn:aws:dsql:{region}:{DSQL_ACCOUNT}:cluster/{id}");
        if request.method != "GET" {
            return Reply::aws_json_error(404, "UnknownOperationException", "not faked");
        }
        if let Some(id) = request.path().strip_prefix("/cluster/") {
            if state.deny_get {
                return denied("GetCluster");
            }
            return match state.clusters.iter().find(|(c, _)| c == id) {
                Some((id, status)) => Reply::json(
                    200,
                    serde_json::json!({
                        "identifier": id,
                        "arn": arn(id),
                        "status": status,
                        "creationTime": 1_764_000_000.0,
                        "deletionProtectionEnabled": false,
                    })
                    .to_string(),
                ),
                None => {
                    let mut reply = Reply::json(
                        404,
                        serde_json::json!({
                            "message": format!("Cluster not found: {id}"),
                            "resourceId": id,
                            "resourceType": "cluster",
                        })
                        .to_string(),
                    );
                    reply.headers.push((
                        "x-amzn-errortype".into(),
                        "ResourceNotFoundException".into(),
                    ));
                    reply
                }
            };
        }
        if request.path() == "/cluster" {
            if state.deny_list {
                return denied("ListClusters");
            }
            let start: usize = request
                .query("next-token")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page: Vec<_> = state
                .clusters
                .iter()
                .skip(start)
                .take(1)
                .map(|(id, _)| serde_json::json!({"identifier": id, "arn": arn(id)}))
                .collect();
            let mut body = serde_json::json!({ "clusters": page });
            if start + 1 < state.clusters.len() {
                body["nextToken"] = serde_json::json!((start + 1).to_string());
            }
            return Reply::json(200, body.to_string());
        }
        Reply::aws_json_error(404, "UnknownOperationException", "not faked")
    })
}

/// Checks a header-signed SigV4 request as AWS does: the scope (access key, region, service),
/// then the signature itself, recomputed by aws-sigv4 over the headers the request says it
/// signed.
pub fn check_sigv4(
    request: &Request,
    service: &str,
    region: &str,
    access_key_id: &str,
    secret: &str,
) -> Result<(), String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let authorization = request
        .header("authorization")
        .ok_or("no Authorization header: not signed")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not an AWS4-HMAC-SHA256 signature")?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
            .ok_or(format!("no {name} in Authorization"))
    };
    let (credential, signed_headers, signature) = (
        field("Credential")?,
        field("SignedHeaders")?,
        field("Signature")?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let wanted = [access_key_id, region, service, "aws4_request"];
    if scope.len() != 5 || [scope[0], scope[2], scope[3], scope[4]] != wanted {
        return Err(format!(
            "credential scope {credential} is not {access_key_id}/DATE/{region}/{service}/aws4_request"
        ));
    }
    let date = request.header("x-amz-date").ok_or("no X-Amz-Date")?;
    let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| "X-Amz-Date is not a date")?
        .and_utc();
    let headers: Vec<(&str, &str)> = signed_headers
        .split(';')
        .map(|name| {
            Ok((
                name,
                request
                    .header(name)
                    .ok_or(format!("signed header {name} missing"))?,
            ))
        })
        .collect::<Result<_, String>>()?;
    let host = request.header("host").ok_or("no Host")?;
    let identity =
        aws_credential_types::Credentials::new(access_key_id, secret, None, None, "fake").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time.into())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        &request.method,
        format!("http://{host}{}", request.url),
        headers.into_iter(),
        SignableBody::Bytes(request.body.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let expected = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts()
        .1;
    if expected != signature {
        return Err(
            "The request signature we calculated does not match the signature you provided".into(),
        );
    }
    Ok(())
}

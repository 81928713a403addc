//! The AWS calls behind `doctor`, `connections discover`, `policy` and `token --verify`: STS,
//! RDS, Aurora DSQL and IAM through the official SDK crates, built from the same SdkConfig as
//! `credentials.rs` (so AWS_ENDPOINT_URL_* and the profile's settings apply) and signed with the
//! credentials it resolved. SDK types stay in this file; callers get plain values.
//!
//! Nothing here runs on the token hot path: a cache hit never reaches this module.

use crate::credentials::{self, Resolved};
use crate::error::{Error, Result};
use crate::values::{AccountId, AwsProfile, Region, ResourceId};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_types::SdkConfig;

/// Clients for one profile and region, sharing one credential resolution.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    config: SdkConfig,
    pub region: Region,
    profile: Option<AwsProfile>,
}

/// What `find_by_endpoint` found, and what it could not look at (a listing the caller may not
/// make), which the caller shows as warnings.
#[derive(Debug, Default)]
pub struct Lookup {
    pub resource: Option<Resource>,
    pub warnings: Vec<Error>,
}

impl Lookup {
    fn found(resource: Resource) -> Lookup {
        Lookup {
            resource: Some(resource),
            warnings: Vec::new(),
        }
    }
}

/// Who the credentials belong to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub arn: String,
    pub account: AccountId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Instance,
    Cluster,
    Proxy,
}

/// An RDS instance, Aurora cluster or RDS Proxy, as far as IAM authentication is concerned.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
    /// What `rds-db:connect` names: DbiResourceId, DbClusterResourceId or the proxy's `prx-` id.
    pub resource_id: ResourceId,
    pub iam_auth: bool,
    pub engine: String,
    pub endpoint: String,
    pub port: u16,
    /// Which of the resource's endpoints matched the host ("writer endpoint", ...).
    pub matched: &'static str,
}

impl Resource {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ResourceKind::Instance => "instance",
            ResourceKind::Cluster => "cluster",
            ResourceKind::Proxy => "proxy",
        }
    }
}

/// An endpoint name and which of a resource's endpoints it is ("reader endpoint", ...).
type Endpoint = (String, &'static str);
/// A resource and every endpoint that reaches it.
type Endpoints = (Resource, Vec<Endpoint>);
/// An instance, its endpoint, and the Aurora cluster it belongs to.
type InstanceEndpoints = (Resource, Vec<Endpoint>, Option<String>);

/// An Aurora DSQL cluster, as far as connecting to it is concerned.
#[derive(Debug, Clone)]
pub struct DsqlCluster {
    pub id: String,
    /// `CLUSTER_ID.dsql.REGION.on.aws`: what clients connect to and tokens are signed for.
    pub endpoint: String,
    /// `None` where the call does not say (ListClusters gives ids and ARNs only).
    pub status: Option<DsqlStatus>,
}

/// A DSQL cluster's status, as GetCluster gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsqlStatus {
    Active,
    /// Scaled down after a while without connections; a connection wakes it.
    Idle,
    /// Scaled to zero after a long while without connections; a connection wakes it, slowly.
    Inactive,
    Creating,
    Updating,
    /// A multi-Region cluster waiting for its peer.
    PendingSetup,
    /// A multi-Region cluster whose peers are being deleted.
    PendingDelete,
    Deleting,
    Deleted,
    Failed,
    /// A status this build does not know, as AWS spells it.
    Other(String),
}

impl DsqlStatus {
    /// As AWS spells it (`ACTIVE`, `PENDING_SETUP`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            DsqlStatus::Active => "ACTIVE",
            DsqlStatus::Idle => "IDLE",
            DsqlStatus::Inactive => "INACTIVE",
            DsqlStatus::Creating => "CREATING",
            DsqlStatus::Updating => "UPDATING",
            DsqlStatus::PendingSetup => "PENDING_SETUP",
            DsqlStatus::PendingDelete => "PENDING_DELETE",
            DsqlStatus::Deleting => "DELETING",
            DsqlStatus::Deleted => "DELETED",
            DsqlStatus::Failed => "FAILED",
            DsqlStatus::Other(other) => other,
        }
    }

    /// By AWS's spelling, so that a status newer than the SDK still reads as itself.
    fn from_aws(text: &str) -> DsqlStatus {
        match text {
            "ACTIVE" => DsqlStatus::Active,
            "IDLE" => DsqlStatus::Idle,
            "INACTIVE" => DsqlStatus::Inactive,
            "CREATING" => DsqlStatus::Creating,
            "UPDATING" => DsqlStatus::Updating,
            "PENDING_SETUP" => DsqlStatus::PendingSetup,
            "PENDING_DELETE" => DsqlStatus::PendingDelete,
            "DELETING" => DsqlStatus::Deleting,
            "DELETED" => DsqlStatus::Deleted,
            "FAILED" => DsqlStatus::Failed,
            other => DsqlStatus::Other(other.to_string()),
        }
    }
}

/// GetCluster's answer. Access denied is kept apart from other failures: it says nothing about
/// the cluster, and doctor goes on without it.
#[derive(Debug)]
pub enum DsqlLookup {
    Found(DsqlCluster),
    NotFound,
    Denied(Error),
}

/// What IAM's policy simulator decided, and which statements decided it.
#[derive(Debug, Clone)]
pub struct Decision {
    /// "allowed", "explicitDeny" or "implicitDeny".
    pub decision: String,
    pub statements: Vec<String>,
    pub missing_context: Vec<String>,
}

impl Aws {
    /// Resolves credentials for `profile` (with the tool's own errors and hints, exit 3) and
    /// builds the SDK configuration around them.
    pub fn connect(profile: Option<&AwsProfile>, region: Option<&Region>) -> Result<Aws> {
        let resolved = credentials::resolve(profile, region)?;
        Aws::from_resolved(&resolved, profile)
    }

    pub fn from_resolved(resolved: &Resolved, profile: Option<&AwsProfile>) -> Result<Aws> {
        let profile = profile.map(|p| p.as_str());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::failure("cannot start the AWS client runtime").caused_by(e))?;
        let loaded = runtime.block_on(credentials::sdk_config(profile, &resolved.region));
        let config = loaded
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(resolved.credentials.clone()))
            .build();
        Ok(Aws {
            runtime,
            config,
            region: resolved.region.clone(),
            profile: profile.and_then(|p| p.parse().ok()),
        })
    }

    /// An `aws ...` command to print as a fix, with this region and profile, so that it acts
    /// on the same account and region whatever the shell's AWS_PROFILE and AWS_REGION say.
    pub fn cli(&self, command: &str) -> String {
        let mut line = format!("aws {command} --region {}", self.region);
        if let Some(profile) = &self.profile {
            line.push_str(&format!(
                " --profile {}",
                shlex::try_quote(profile.as_str()).unwrap_or_default()
            ));
        }
        line
    }

    pub fn caller(&self) -> Result<Caller> {
        let client = aws_sdk_sts::Client::new(&self.config);
        let output = self
            .runtime
            .block_on(client.get_caller_identity().send())
            .map_err(|e| service_error("STS GetCallerIdentity", &e))?;
        Ok(Caller {
            arn: output.arn().unwrap_or_default().to_string(),
            account: AccountId::reported(output.account().unwrap_or_default()),
        })
    }

    /// The instance, cluster or proxy that answers on `host`, looked up among all of them in
    /// the region (DescribeDB* filter by identifier, not by endpoint).
    pub fn find_by_endpoint(&self, host: &str) -> Result<Lookup> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let clusters = self.clusters()?;
        let mut all = clusters.clone();
        for (instance, endpoints, cluster_id) in self.instances()? {
            // An Aurora instance's own endpoint: the cluster decides IAM auth and owns the
            // resource id.
            let resource = match cluster_id {
                Some(id) => match clusters.iter().find(|(c, _)| c.id == id) {
                    Some((cluster, _)) => cluster.clone(),
                    None => continue,
                },
                None => instance,
            };
            all.push((resource, endpoints));
        }
        if let Some(found) = matching(&all, &host) {
            return Ok(Lookup::found(found));
        }
        // Proxies last: most hosts are instances or clusters, and fewer callers may list them.
        // A proxy's default endpoint is in DescribeDBProxies; only its extra endpoints need
        // DescribeDBProxyEndpoints, whose failure leaves the lookup standing, with a warning.
        let mut proxies = self.proxies()?;
        if let Some(found) = matching(&proxies, &host) {
            return Ok(Lookup::found(found));
        }
        if proxies.is_empty() {
            return Ok(Lookup::default());
        }
        match self.add_proxy_endpoints(&mut proxies) {
            Ok(()) => Ok(Lookup {
                resource: matching(&proxies, &host),
                warnings: Vec::new(),
            }),
            Err(err) => {
                let mut warning = Error::failure(format!(
                    "{host} is no instance, cluster or proxy default endpoint, and the proxies' other endpoints could not be listed ({})",
                    err.message
                ));
                warning.hints = err.hints;
                Ok(Lookup {
                    resource: None,
                    warnings: vec![warning],
                })
            }
        }
    }

    /// Every instance and cluster with IAM database authentication on; instances that belong
    /// to a cluster are left out (the cluster is the resource).
    pub fn iam_enabled(&self) -> Result<Vec<Resource>> {
        let mut found: Vec<Resource> = self.clusters()?.into_iter().map(|(r, _)| r).collect();
        found.extend(
            self.instances()?
                .into_iter()
                .filter(|(_, _, cluster)| cluster.is_none())
                .map(|(r, _, _)| r),
        );
        found.retain(|r| r.iam_auth);
        Ok(found)
    }

    /// The instance `id`, and the Aurora cluster it belongs to, which governs its IAM
    /// database authentication.
    pub fn instance(&self, id: &str) -> Result<(Resource, Option<Resource>)> {
        let (instance, _, cluster) = self
            .instances()?
            .into_iter()
            .find(|(r, _, _)| r.id == id)
            .ok_or_else(|| {
                Error::failure(format!("no RDS instance `{id}` in {}", self.region))
                    .hint("check the identifier and the region (--region)")
            })?;
        let cluster = match cluster {
            Some(cluster) => Some(self.cluster(&cluster)?),
            None => None,
        };
        Ok((instance, cluster))
    }

    pub fn cluster(&self, id: &str) -> Result<Resource> {
        self.clusters()?
            .into_iter()
            .map(|(r, _)| r)
            .find(|r| r.id == id)
            .ok_or_else(|| {
                Error::failure(format!("no Aurora cluster `{id}` in {}", self.region))
                    .hint("check the identifier and the region (--region)")
            })
    }

    /// Every page of a listing, collected by the SDK's paginator (which follows each page's
    /// `Marker` or `nextToken`); a failure is the listing's, named by `what`.
    fn every_page<T, E>(
        &self,
        what: &str,
        pages: impl std::future::Future<Output = std::result::Result<Vec<T>, SdkError<E, HttpResponse>>>,
    ) -> Result<Vec<T>>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.runtime
            .block_on(pages)
            .map_err(|e| service_error(what, &e))
    }

    /// Instances with their endpoint, and the cluster each Aurora instance belongs to.
    fn instances(&self) -> Result<Vec<InstanceEndpoints>> {
        let client = aws_sdk_rds::Client::new(&self.config);
        let mut out = Vec::new();
        let pages = self.every_page(
            "RDS DescribeDBInstances",
            client
                .describe_db_instances()
                .into_paginator()
                .send()
                .collect(),
        )?;
        for page in pages {
            for db in page.db_instances() {
                let endpoint = db.endpoint();
                let address = endpoint
                    .and_then(|e| e.address())
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let resource = Resource {
                    kind: ResourceKind::Instance,
                    id: db.db_instance_identifier().unwrap_or_default().to_string(),
                    resource_id: ResourceId::reported(db.dbi_resource_id().unwrap_or_default()),
                    iam_auth: db.iam_database_authentication_enabled().unwrap_or(false),
                    engine: db.engine().unwrap_or_default().to_string(),
                    endpoint: address.clone(),
                    port: endpoint.and_then(|e| e.port()).unwrap_or(0) as u16,
                    matched: "instance endpoint",
                };
                let cluster = db.db_cluster_identifier().map(str::to_string);
                out.push((resource, vec![(address, "instance endpoint")], cluster));
            }
        }
        Ok(out)
    }

    /// Clusters with their writer, reader and custom endpoints.
    fn clusters(&self) -> Result<Vec<Endpoints>> {
        let client = aws_sdk_rds::Client::new(&self.config);
        let mut out = Vec::new();
        let pages = self.every_page(
            "RDS DescribeDBClusters",
            client
                .describe_db_clusters()
                .into_paginator()
                .send()
                .collect(),
        )?;
        for page in pages {
            for cluster in page.db_clusters() {
                let lower = |s: Option<&str>| s.unwrap_or_default().to_ascii_lowercase();
                let writer = lower(cluster.endpoint());
                let mut endpoints = vec![
                    (writer.clone(), "writer endpoint"),
                    (lower(cluster.reader_endpoint()), "reader endpoint"),
                ];
                for custom in cluster.custom_endpoints() {
                    endpoints.push((custom.to_ascii_lowercase(), "custom endpoint"));
                }
                let resource = Resource {
                    kind: ResourceKind::Cluster,
                    id: cluster
                        .db_cluster_identifier()
                        .unwrap_or_default()
                        .to_string(),
                    resource_id: ResourceId::reported(
                        cluster.db_cluster_resource_id().unwrap_or_default(),
                    ),
                    iam_auth: cluster
                        .iam_database_authentication_enabled()
                        .unwrap_or(false),
                    engine: cluster.engine().unwrap_or_default().to_string(),
                    endpoint: writer,
                    port: cluster.port().unwrap_or(0) as u16,
                    matched: "writer endpoint",
                };
                out.push((resource, endpoints));
            }
        }
        Ok(out)
    }

    /// RDS Proxies: IAM auth is per proxy (`Auth[].IAMAuth`), and the resource id is the
    /// `prx-` id at the end of its ARN.
    fn proxies(&self) -> Result<Vec<Endpoints>> {
        use aws_sdk_rds::types::IamAuthMode;
        let client = aws_sdk_rds::Client::new(&self.config);
        let mut out = Vec::new();
        let pages = self.every_page(
            "RDS DescribeDBProxies",
            client
                .describe_db_proxies()
                .into_paginator()
                .send()
                .collect(),
        )?;
        for page in pages {
            for proxy in page.db_proxies() {
                let endpoint = proxy.endpoint().unwrap_or_default().to_ascii_lowercase();
                let family = proxy
                    .engine_family()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let iam_auth = proxy.auth().iter().any(|auth| {
                    matches!(
                        auth.iam_auth(),
                        Some(IamAuthMode::Required | IamAuthMode::Enabled)
                    )
                });
                let arn = proxy.db_proxy_arn().unwrap_or_default();
                let resource = Resource {
                    kind: ResourceKind::Proxy,
                    id: proxy.db_proxy_name().unwrap_or_default().to_string(),
                    resource_id: ResourceId::reported(arn.rsplit(':').next().unwrap_or_default()),
                    iam_auth,
                    port: if family.contains("postgres") {
                        5432
                    } else {
                        3306
                    },
                    engine: family,
                    endpoint: endpoint.clone(),
                    matched: "proxy endpoint",
                };
                out.push((resource, vec![(endpoint, "proxy endpoint")]));
            }
        }
        Ok(out)
    }

    /// A proxy's own extra endpoints (read-only or in another VPC), from DescribeDBProxyEndpoints.
    fn add_proxy_endpoints(&self, proxies: &mut [Endpoints]) -> Result<()> {
        let client = aws_sdk_rds::Client::new(&self.config);
        let pages = self.every_page(
            "RDS DescribeDBProxyEndpoints",
            client
                .describe_db_proxy_endpoints()
                .into_paginator()
                .send()
                .collect(),
        )?;
        for page in pages {
            for endpoint in page.db_proxy_endpoints() {
                let (Some(name), Some(address)) = (endpoint.db_proxy_name(), endpoint.endpoint())
                else {
                    continue;
                };
                if let Some((_, endpoints)) = proxies.iter_mut().find(|(p, _)| p.id == name) {
                    endpoints.push((address.to_ascii_lowercase(), "proxy endpoint (custom)"));
                }
            }
        }
        Ok(())
    }

    /// The IAM role behind an assumed-role ARN, with its path (Identity Center roles live
    /// under /aws-reserved/sso.amazonaws.com/): asked of IAM GetRole, else the path guessed.
    pub fn role_arn(&self, caller: &Caller) -> Option<String> {
        let role = caller
            .arn
            .split_once(":assumed-role/")?
            .1
            .split('/')
            .next()?;
        let client = aws_sdk_iam::Client::new(&self.config);
        if let Ok(output) = self
            .runtime
            .block_on(client.get_role().role_name(role).send())
            && let Some(found) = output.role()
        {
            return Some(found.arn().to_string());
        }
        let partition = caller.arn.split(':').nth(1).unwrap_or("aws");
        let path = if role.starts_with("AWSReservedSSO_") {
            "aws-reserved/sso.amazonaws.com/"
        } else {
            ""
        };
        Some(format!(
            "arn:{partition}:iam::{}:role/{path}{role}",
            caller.account
        ))
    }

    /// IAM SimulatePrincipalPolicy for one connect action (`rds-db:connect`,
    /// `dsql:DbConnect`, `dsql:DbConnectAdmin`) on `resource_arn`, with the principal tag
    /// the guide's ABAC policy reads when there is one (`(key, value)`, key after
    /// `aws:PrincipalTag/`).
    pub fn simulate_connect(
        &self,
        principal_arn: &str,
        action: &str,
        resource_arn: &str,
        principal_tag: Option<(&str, &str)>,
    ) -> Result<Decision> {
        use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};
        let client = aws_sdk_iam::Client::new(&self.config);
        let context = principal_tag.map(|(key, value)| {
            ContextEntry::builder()
                .context_key_name(format!("aws:PrincipalTag/{key}"))
                .context_key_type(ContextKeyTypeEnum::String)
                .context_key_values(value)
                .build()
        });
        let output = self
            .runtime
            .block_on(
                client
                    .simulate_principal_policy()
                    .policy_source_arn(principal_arn)
                    .action_names(action)
                    .resource_arns(resource_arn)
                    .set_context_entries(context.map(|entry| vec![entry]))
                    .send(),
            )
            .map_err(|e| service_error("IAM SimulatePrincipalPolicy", &e))?;
        let result = output.evaluation_results().first().ok_or_else(|| {
            Error::failure("IAM SimulatePrincipalPolicy returned no evaluation result")
        })?;
        Ok(Decision {
            decision: result.eval_decision().as_str().to_string(),
            statements: result
                .matched_statements()
                .iter()
                .filter_map(|s| s.source_policy_id().map(str::to_string))
                .collect(),
            missing_context: result.missing_context_values().to_vec(),
        })
    }

    /// Aurora DSQL GetCluster: the cluster, that it does not exist, or that the caller may not ask.
    pub fn dsql_cluster(&self, id: &str) -> Result<DsqlLookup> {
        use aws_sdk_dsql::operation::get_cluster::GetClusterError;
        let client = aws_sdk_dsql::Client::new(&self.config);
        let output = match self
            .runtime
            .block_on(client.get_cluster().identifier(id).send())
        {
            Ok(output) => output,
            Err(err) => {
                return match err.as_service_error() {
                    Some(GetClusterError::ResourceNotFoundException(_)) => Ok(DsqlLookup::NotFound),
                    Some(GetClusterError::AccessDeniedException(_)) => Ok(DsqlLookup::Denied(
                        service_error("Aurora DSQL GetCluster", &err),
                    )),
                    _ => Err(service_error("Aurora DSQL GetCluster", &err)),
                };
            }
        };
        let id = output.identifier().to_string();
        Ok(DsqlLookup::Found(DsqlCluster {
            endpoint: dsql_endpoint(&id, &self.region),
            status: Some(DsqlStatus::from_aws(output.status().as_str())),
            id,
        }))
    }

    /// Aurora DSQL ListClusters: every cluster in the region, with its endpoint.
    pub fn dsql_clusters(&self) -> Result<Vec<DsqlCluster>> {
        let client = aws_sdk_dsql::Client::new(&self.config);
        let pages = self.every_page(
            "Aurora DSQL ListClusters",
            client.list_clusters().into_paginator().send().collect(),
        )?;
        Ok(pages
            .iter()
            .flat_map(|page| page.clusters())
            .map(|summary| DsqlCluster {
                id: summary.identifier().to_string(),
                endpoint: dsql_endpoint(summary.identifier(), &self.region),
                status: None,
            })
            .collect())
    }
}

/// DSQL's public endpoint: what the AWS connectors build from an id and a region.
fn dsql_endpoint(id: &str, region: &str) -> String {
    format!("{}.dsql.{region}.on.aws", id.to_ascii_lowercase())
}

fn matching(all: &[Endpoints], host: &str) -> Option<Resource> {
    all.iter().find_map(|(resource, endpoints)| {
        endpoints
            .iter()
            .find(|(endpoint, _)| endpoint.eq_ignore_ascii_case(host))
            .map(|(_, matched)| Resource {
                matched,
                ..resource.clone()
            })
    })
}

/// One line for a failed call: the service's code and message, never the SDK's debug dump.
/// An answer that is no AWS error (a 500, a corporate proxy's HTML page) shows its HTTP status
/// and first line instead. Refused credentials, and a 403 with no readable code (as the AWS
/// CLI takes it), are exit 3; only an access denial gets the permission hint.
fn service_error<E>(what: &str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message, raw) = match err {
        SdkError::ServiceError(service) => (
            service.err().code(),
            service.err().message(),
            Some(service.raw()),
        ),
        SdkError::ResponseError(response) => (None, None, Some(response.raw())),
        SdkError::TimeoutError(_) => return Error::failure(format!("AWS {what} timed out")),
        _ => {
            return Error::failure(format!("cannot reach AWS {what}{}", innermost(err)))
                .hint("check the network, a proxy, or AWS_ENDPOINT_URL_*");
        }
    };
    let status = raw.map(|r| r.status().as_u16());
    let Some(code) = code else {
        let text = format!(
            "AWS {what} failed: {}",
            unreadable_answer(status, raw.and_then(|r| r.body().bytes()))
        );
        return match status {
            Some(403) => Error::credentials(text).hint(REFUSED_HINT),
            _ => Error::failure(text).hint(
                "the answer was not from AWS: check a proxy (HTTPS_PROXY) or AWS_ENDPOINT_URL_*, or try again later",
            ),
        };
    };
    let message = message
        .filter(|m| m.len() <= 300 && !m.contains('{'))
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let text = format!("AWS {what} failed: {code}{message}");
    if is_refused_credentials(code) {
        Error::credentials(text).hint(REFUSED_HINT)
    } else if is_access_denied(code) {
        Error::failure(text).hint(format!(
            "the caller needs `{}`; add it to the permission set or role",
            permission(what)
        ))
    } else {
        Error::failure(text)
    }
}

const REFUSED_HINT: &str =
    "the AWS credentials were refused; renew them (for SSO, `aws sso login --profile PROFILE`)";

/// "HTTP 502 (<html>...)": the status and the body's first non-blank line, cut short. An
/// error page holds no secret of ours: the request's signature is not echoed in a body.
fn unreadable_answer(status: Option<u16>, body: Option<&[u8]>) -> String {
    let first_line = body
        .map(String::from_utf8_lossy)
        .and_then(|text| {
            text.lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .map(|line| {
                    // An echoing proxy may show the request back: its signature or session
                    // token must not reach the terminal.
                    let echoed = ["x-amz-", "authorization", "security-token", "signature"];
                    if echoed.iter().any(|e| line.to_ascii_lowercase().contains(e)) {
                        return "its first line echoes the request, not shown".to_string();
                    }
                    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
                    match clean.char_indices().nth(120) {
                        Some((cut, _)) => format!("{}...", &clean[..cut]),
                        None => clean,
                    }
                })
        })
        .map(|line| format!(" ({line})"))
        .unwrap_or_else(|| " (empty body)".to_string());
    match status {
        Some(status) => format!("HTTP {status}{first_line}, not an AWS error"),
        None => format!("an answer that is not an AWS error{first_line}"),
    }
}

/// The IAM action behind "RDS DescribeDBProxyEndpoints": `rds:DescribeDBProxyEndpoints`.
fn permission(what: &str) -> String {
    let (service, action) = what.rsplit_once(' ').unwrap_or(("", what));
    let prefix = match service {
        "STS" => "sts",
        "RDS" => "rds",
        "IAM" => "iam",
        "Aurora DSQL" => "dsql",
        other => return format!("{other} {action}"),
    };
    format!("{prefix}:{action}")
}

fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
    )
}

/// The innermost cause of a transport failure ("Connection refused"), when it is one short line.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let last = std::iter::successors(Some(err), |e| e.source()).last();
    let text = last.map(|e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => crate::error::describe_io(io),
        None => e.to_string(),
    });
    match text {
        Some(text) if text.len() <= 120 && !text.contains(['{', '\n']) => format!(" ({text})"),
        _ => String::new(),
    }
}

pub fn is_refused_credentials(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidToken"
    )
}

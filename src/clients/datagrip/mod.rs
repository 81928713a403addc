//! DataGrip (and every JetBrains IDE's database tools): `.idea/dataSources.xml` (shared) and
//! `.idea/dataSources.local.xml` (per user), matched by the data source's uuid, and the text
//! of "Import from Clipboard". XML is read and written with quick-xml; a merge re-emits every
//! event of the user's file and swaps only our `<data-source>`.

use crate::clients::{
    AuthMode, Client, Edit, Plan, Request, ca_bundle, ca_file_note, require_wire, tunnel_caveat,
    via_proxy,
};
use crate::config::{Connection, Dialing, Engine, Wire};
use crate::error::{Error, Result};
use quick_xml::Writer;
use quick_xml::events::BytesText;
use sha2::{Digest, Sha256};
use std::path::Path;

mod merge;
pub use merge::{existing_uuid, merge};

pub const SHARED_COMPONENT: &str = "DataSourceManagerImpl";
pub const LOCAL_COMPONENT: &str = "dataSourceStorageLocal";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The AWS Toolkit plugin signs tokens itself.
    AwsToolkit,
    /// DataGrip reads `~/.pgpass`, which `refresh` keeps fresh.
    Pgpass,
}

#[derive(Debug, Clone)]
pub struct DataSource {
    pub name: String,
    pub uuid: String,
    driver_ref: &'static str,
    jdbc_driver: &'static str,
    url: String,
    properties: Vec<(&'static str, String)>,
    user: String,
    auth_provider: &'static str,
    ca_cert: String,
    ssl_mode: &'static str,
}

/// A uuid stable per connection name, so re-running setup updates the same data source.
pub fn stable_uuid(name: &str) -> String {
    let digest = Sha256::digest(format!("rdsiam-helper/datagrip/{name}").as_bytes());
    let mut b: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub struct Inputs<'a> {
    /// The data source's name: the connection's.
    pub name: &'a str,
    pub connection: &'a Connection,
    pub user: &'a str,
    pub region: &'a str,
    pub ca_bundle: &'a Path,
    pub auth: Auth,
    pub uuid: String,
}

pub fn data_source(inputs: &Inputs<'_>) -> Result<DataSource> {
    let c = inputs.connection;
    let name = inputs.name.to_string();
    // Through a tunnel the JDBC driver dials 127.0.0.1 and cannot match the certificate's name.
    let verification = c.verification(Dialing::AddressOnly);
    let ca = inputs.ca_bundle.display().to_string();
    // As every other client: with no database, pgjdbc would open one named after the user.
    let db = c.database_or_default();
    let (driver_ref, jdbc_driver, url) = match c.engine.wire() {
        Wire::Postgres => {
            let mode = verification.sslmode();
            let ca_param: String =
                percent_encoding::utf8_percent_encode(&ca, percent_encoding::NON_ALPHANUMERIC)
                    .collect();
            (
                "postgresql",
                "org.postgresql.Driver",
                format!(
                    "jdbc:postgresql://{}:{}/{db}?sslmode={mode}&sslrootcert={ca_param}",
                    c.dial_host_for_url(),
                    c.dial_port()
                ),
            )
        }
        Wire::Mysql => {
            let mode = verification.mysql_ssl_mode();
            (
                "mysql.8",
                "com.mysql.cj.jdbc.Driver",
                format!(
                    "jdbc:mysql://{}:{}/{db}?sslMode={mode}",
                    c.dial_host_for_url(),
                    c.dial_port()
                ),
            )
        }
    };
    let properties = match inputs.auth {
        Auth::AwsToolkit => vec![
            (
                "AWS.CredentialId",
                format!("profile:{}", c.aws_profile.as_deref().unwrap_or("default")),
            ),
            ("AWS.RegionId", inputs.region.to_string()),
            ("AWS.RdsSigningHost", c.host.to_string()),
            ("AWS.RdsSigningPort", c.port.to_string()),
        ],
        Auth::Pgpass => Vec::new(),
    };
    Ok(DataSource {
        name,
        uuid: inputs.uuid.clone(),
        driver_ref,
        jdbc_driver,
        url,
        properties,
        user: inputs.user.to_string(),
        auth_provider: match inputs.auth {
            Auth::AwsToolkit => "aws.rds.iam",
            Auth::Pgpass => "pgpass",
        },
        ca_cert: ca,
        ssl_mode: verification.datagrip_mode(),
    })
}

type XmlWriter = Writer<Vec<u8>>;

/// `setup datagrip`: a data source for the clipboard import, or merged into the project's
/// `.idea/dataSources.xml` (shared) and `.idea/dataSources.local.xml` (per user). A data source
/// already there keeps its uuid, read under the shared file's lock, so the two files agree.
pub struct Datagrip;

impl Client for Datagrip {
    fn takes_auth(&self) -> bool {
        true
    }

    fn accepts(&self, connection: &Connection, name: &str, auth: Option<AuthMode>) -> Result<()> {
        if auth == Some(AuthMode::Pgpass) {
            require_wire(
                connection,
                name,
                Wire::Postgres,
                "DataGrip's pgpass mode",
                Some("use --auth aws-toolkit for MySQL (the AWS Toolkit plugin signs the token)"),
            )?;
        }
        Auth::for_connection(connection, auth).map(|_| ())
    }

    /// The AWS Toolkit's data source names the signing region; when only the AWS profile knows
    /// it, a token is issued to learn it. A DSQL data source reads .pgpass and names none.
    fn needs_token(&self, connection: &Connection) -> bool {
        connection.engine != Engine::Dsql && connection.signing_region().is_none()
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        request
            .connection
            .require_verifiable(Dialing::AddressOnly, "DataGrip")?;
        let region = match request.issued {
            Some(issued) => issued.region.to_string(),
            None => request
                .connection
                .signing_region()
                .map(String::from)
                .unwrap_or_default(),
        };
        let auth = Auth::for_connection(request.connection, request.auth)?;
        let mut plan = plan(request, auth, region)?;
        plan.notes
            .extend(ca_file_note(request.connection, "pgjdbc"));
        Ok(plan)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy::jdbc_plan(request, "DataGrip")
    }
}

impl Auth {
    /// The AWS Toolkit signs RDS tokens only: a DSQL connection gets its password from
    /// `.pgpass` (the default there).
    fn for_connection(connection: &Connection, auth: Option<AuthMode>) -> Result<Auth> {
        if connection.engine == Engine::Dsql {
            return match auth.unwrap_or(AuthMode::Pgpass) {
                AuthMode::Pgpass => Ok(Auth::Pgpass),
                _ => Err(Error::usage(
                    "for an Aurora DSQL connection DataGrip reads its password from ~/.pgpass",
                )
                .hint(
                    "use --auth pgpass (the default for dsql); the AWS Toolkit signs RDS tokens only",
                )),
            };
        }
        match auth.unwrap_or(AuthMode::AwsToolkit) {
            AuthMode::AwsToolkit => Ok(Auth::AwsToolkit),
            AuthMode::Pgpass => Ok(Auth::Pgpass),
            AuthMode::Command => Err(Error::usage("DataGrip has no command password mode")
                .hint("use --auth aws-toolkit (the AWS Toolkit plugin) or --auth pgpass")),
        }
    }
}

fn plan<'a>(request: &Request<'a>, auth: Auth, region: String) -> Result<Plan<'a>> {
    let connection = request.connection;
    let name = request.name;
    let mut notes: Vec<String> = tunnel_caveat(connection)
        .map(|c| format!("note: {c}"))
        .into_iter()
        .collect();
    let user = request.user;
    if auth == Auth::AwsToolkit
        && connection.engine == Engine::Postgres
        && user != user.to_lowercase()
    {
        notes.push(format!(
            "warning: the AWS Toolkit lower-cases PostgreSQL user names; `{user}` will be signed as `{}`",
            user.to_lowercase()
        ));
    }
    let ca = ca_bundle(connection);
    let source = move |uuid: String| {
        data_source(&Inputs {
            name,
            connection,
            user,
            region: &region,
            ca_bundle: &ca,
            auth,
            uuid,
        })
    };
    let pgpass_note = (auth == Auth::Pgpass).then(|| {
        format!(
            "the password comes from ~/.pgpass: run `{}` and the refresh timer",
            request.command.line(&["setup", "pgpass", name, "--write"])
        )
    });
    let Some(project) = request
        .destination
        .file(|| Ok(std::path::PathBuf::from(".")))?
    else {
        notes.push(
            "copy the text above, then in DataGrip: Database Explorer > + > Import from Clipboard"
                .to_string(),
        );
        notes.extend(pgpass_note);
        return Ok(Plan {
            print: Some(source(stable_uuid(name))?.clipboard().into()),
            notes,
            ..Plan::default()
        });
    };
    notes.extend(pgpass_note);
    let shared_path = project.join(".idea/dataSources.xml");
    let local_path = project.join(".idea/dataSources.local.xml");
    let (shared_at, local_at) = (shared_path.clone(), local_path.clone());
    // The local file names the data source by the uuid the shared file gives it.
    let both = Edit::together(vec![shared_path, local_path], move |texts| {
        let (shared, local) = (texts[0], texts[1]);
        let uuid = existing_uuid(shared, name).unwrap_or_else(|| stable_uuid(name));
        let source = source(uuid)?;
        let shared = merge(
            shared,
            &shared_at,
            SHARED_COMPONENT,
            &source.name,
            &source.shared_xml(),
        )?;
        let local = merge(
            local,
            &local_at,
            LOCAL_COMPONENT,
            &source.name,
            &source.local_xml(),
        )?;
        Ok(vec![shared.into(), local.into()])
    });
    Ok(Plan {
        edits: vec![both],
        notes,
        ..Plan::default()
    })
}

fn text_element(w: &mut XmlWriter, name: &str, text: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

impl DataSource {
    fn write_shared_children(&self, w: &mut XmlWriter) -> std::io::Result<()> {
        text_element(w, "driver-ref", self.driver_ref)?;
        text_element(w, "synchronize", "true")?;
        text_element(w, "jdbc-driver", self.jdbc_driver)?;
        text_element(w, "jdbc-url", &self.url)?;
        if !self.properties.is_empty() {
            w.create_element("jdbc-additional-properties")
                .write_inner_content(|w| {
                    for (name, value) in &self.properties {
                        w.create_element("property")
                            .with_attribute(("name", *name))
                            .with_attribute(("value", value.as_str()))
                            .write_empty()?;
                    }
                    Ok(())
                })?;
        }
        text_element(w, "working-dir", "$ProjectFileDir$")
    }

    fn write_local_children(&self, w: &mut XmlWriter) -> std::io::Result<()> {
        text_element(w, "user-name", &self.user)?;
        text_element(w, "auth-provider", self.auth_provider)?;
        w.create_element("ssl-config").write_inner_content(|w| {
            text_element(w, "ca-cert", &self.ca_cert)?;
            text_element(w, "enabled", "true")?;
            text_element(w, "mode", self.ssl_mode)
        })?;
        Ok(())
    }

    fn render(&self, shared: bool, local: bool, indent: bool) -> String {
        let mut w = if indent {
            Writer::new_with_indent(Vec::new(), b' ', 2)
        } else {
            Writer::new(Vec::new())
        };
        let mut element = w.create_element("data-source");
        if shared {
            element = element.with_attribute(("source", "LOCAL"));
        }
        element
            .with_attribute(("name", self.name.as_str()))
            .with_attribute(("uuid", self.uuid.as_str()))
            .write_inner_content(|w| {
                if shared {
                    self.write_shared_children(w)?;
                }
                if local {
                    self.write_local_children(w)?;
                }
                Ok(())
            })
            .expect("writing to memory cannot fail");
        String::from_utf8(w.into_inner()).expect("UTF-8 in, UTF-8 out")
    }

    /// The `<data-source>` for `dataSources.xml`.
    pub fn shared_xml(&self) -> String {
        self.render(true, false, true)
    }

    /// The `<data-source>` for `dataSources.local.xml`.
    pub fn local_xml(&self) -> String {
        self.render(false, true, true)
    }

    /// DataGrip's "Import from Clipboard" text: both halves in one element.
    pub fn clipboard(&self) -> String {
        format!(
            "#DataSourceSettings#\n#LocalDataSource: {}\n#BEGIN#\n{}\n#END#\n",
            self.name,
            self.render(true, true, false)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    fn element(name: &str) -> String {
        format!(
            "<data-source source=\"LOCAL\" name=\"{name}\" uuid=\"u\">\n  <jdbc-url>new &amp; fresh</jdbc-url>\n</data-source>"
        )
    }

    #[test]
    fn merge_keeps_others_and_replaces_ours_in_place() {
        let existing = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project version=\"4\">\n  <!-- keep me -->\n  <component name=\"DataSourceManagerImpl\" format=\"xml\" multifile-model=\"true\">\n    <data-source source=\"LOCAL\" name=\"other\" uuid=\"1\">\n      <jdbc-url>jdbc:x</jdbc-url>\n    </data-source>\n    <data-source source=\"LOCAL\" name=\"prod\" uuid=\"2\">\n      <jdbc-url>old</jdbc-url>\n    </data-source>\n  </component>\n</project>\n";
        let merged = merge(
            existing,
            Path::new("f"),
            SHARED_COMPONENT,
            "prod",
            &element("prod"),
        )
        .unwrap();
        assert!(merged.contains("<!-- keep me -->") && merged.contains("name=\"other\""));
        assert!(merged.contains("new &amp; fresh") && !merged.contains(">old<"));
        assert_eq!(existing_uuid(existing, "prod").as_deref(), Some("2"));
        // appended when absent, and the result parses
        let added = merge(
            &merged,
            Path::new("f"),
            SHARED_COMPONENT,
            "dev",
            &element("dev"),
        )
        .unwrap();
        assert!(
            added.contains("name=\"dev\"")
                && added.contains("name=\"prod\"")
                && added.contains("name=\"other\"")
        );
        let mut reader = Reader::from_str(&added);
        while !matches!(reader.read_event().unwrap(), Event::Eof) {}
    }

    #[test]
    fn merge_refuses_broken_xml() {
        let err = merge(
            "<project><component name=\"x\"></project>",
            Path::new("f.xml"),
            SHARED_COMPONENT,
            "p",
            &element("p"),
        )
        .unwrap_err();
        assert!(err.message.contains("f.xml is not valid XML"));
    }

    #[test]
    fn an_empty_project_is_opened_and_a_second_root_refused() {
        let merged = merge(
            "<project version=\"4\"/>",
            Path::new("f"),
            SHARED_COMPONENT,
            "p",
            &element("p"),
        )
        .unwrap();
        assert!(
            merged.starts_with(
                "<project version=\"4\">\n  <component name=\"DataSourceManagerImpl\""
            )
        );
        assert!(merged.ends_with("</component>\n</project>"));
        for text in ["<a/><project></project>", "<project></project><project/>"] {
            let err =
                merge(text, Path::new("f"), SHARED_COMPONENT, "p", &element("p")).unwrap_err();
            assert!(
                err.message.contains("root element is not <project>"),
                "{text}"
            );
        }
    }

    #[test]
    fn stable_uuid_looks_like_a_uuid() {
        let id = stable_uuid("prod");
        assert_eq!(id.len(), 36);
        assert_eq!(id, stable_uuid("prod"));
        assert_ne!(id, stable_uuid("dev"));
    }
}

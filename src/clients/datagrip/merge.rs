//! The XML merge of a JetBrains project file: every event of the user's file re-emitted as
//! read, and only our `<data-source>` swapped in (or appended).

use super::{SHARED_COMPONENT, XmlWriter};
use crate::error::{Error, Result};
use quick_xml::events::{BytesEnd, BytesStart, Event};
use quick_xml::{Reader, Writer};
use std::path::Path;

fn xml_error(path: &Path, reader: &Reader<&[u8]>, err: impl std::fmt::Display) -> Error {
    Error::failure(format!(
        "{} is not valid XML (at byte {}: {err}); it was left unchanged",
        path.display(),
        reader.error_position()
    ))
    .hint("fix or move the file (DataGrip rewrites it on its next save), then run again")
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

/// The uuid of the data source called `name` in an existing file, so a re-run keeps it.
pub fn existing_uuid(text: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if e.name().0 == "data-source"
                    && attribute(&e, "name").as_deref() == Some(name) =>
            {
                return attribute(&e, "uuid");
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
    }
}

/// `text` (a project file, or empty for a new one) with our data source in `component`:
/// replacing the one of the same name in place, else appended. Everything else is re-emitted
/// as read: other data sources, comments, whitespace.
pub fn merge(
    text: &str,
    path: &Path,
    component: &str,
    name: &str,
    element: &str,
) -> Result<String> {
    if text.trim().is_empty() {
        return Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project version=\"4\">\n{}\n</project>\n",
            new_component(component, element)
        ));
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out = Writer::new(Vec::new());
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut in_component: Option<usize> = None;
    let mut skipping: Option<usize> = None;
    let mut inserted = false;
    let block = format!("  {}\n  ", indent(element, "    ").trim_start());
    loop {
        let event = reader
            .read_event()
            .map_err(|e| xml_error(path, &reader, e))?;
        if let Some(skip_depth) = skipping {
            match &event {
                Event::Start(_) => depth += 1,
                Event::End(_) => {
                    depth -= 1;
                    if depth == skip_depth {
                        skipping = None;
                    }
                }
                Event::Eof => return Err(xml_error(path, &reader, "unexpected end of file")),
                _ => {}
            }
            continue;
        }
        match &event {
            Event::Start(e) => {
                if depth == 0 {
                    if e.name().0 != "project" || root_seen {
                        return Err(xml_error(
                            path,
                            &reader,
                            "the root element is not <project>",
                        ));
                    }
                    root_seen = true;
                }
                if depth == 1
                    && e.name().0 == "component"
                    && attribute(e, "name").as_deref() == Some(component)
                {
                    in_component = Some(depth + 1);
                }
                let ours = in_component == Some(depth)
                    && e.name().0 == "data-source"
                    && attribute(e, "name").as_deref() == Some(name);
                depth += 1;
                if ours {
                    skipping = Some(depth - 1);
                    if !inserted {
                        // The indentation before the old element was kept; add none.
                        write_raw(&mut out, block.trim())?;
                        inserted = true;
                    }
                    continue;
                }
            }
            Event::Empty(e) if depth == 0 => {
                if e.name().0 != "project" || root_seen {
                    return Err(xml_error(
                        path,
                        &reader,
                        "the root element is not <project>",
                    ));
                }
                // <project/>: open it up around a new component.
                root_seen = true;
                write_event(&mut out, Event::Start(e.to_owned()))?;
                write_raw(
                    &mut out,
                    &format!("\n{}\n", new_component(component, element)),
                )?;
                write_event(&mut out, Event::End(BytesEnd::new("project")))?;
                inserted = true;
                continue;
            }
            Event::Empty(e) => {
                if in_component == Some(depth)
                    && e.name().0 == "data-source"
                    && attribute(e, "name").as_deref() == Some(name)
                {
                    if !inserted {
                        write_raw(&mut out, block.trim())?;
                        inserted = true;
                    }
                    continue;
                }
                if depth == 1
                    && !inserted
                    && e.name().0 == "component"
                    && attribute(e, "name").as_deref() == Some(component)
                {
                    // <component name="..."/>: open it up around our element.
                    let start = e.to_owned();
                    write_event(&mut out, Event::Start(start))?;
                    write_raw(&mut out, &format!("\n    {}", block.trim_start()))?;
                    write_event(&mut out, Event::End(BytesEnd::new("component")))?;
                    inserted = true;
                    continue;
                }
            }
            Event::End(e) => {
                depth -= 1;
                if in_component.is_some()
                    && depth + 1 == in_component.unwrap_or(0)
                    && e.name().0 == "component"
                {
                    in_component = None;
                    if !inserted {
                        write_raw(&mut out, &block)?;
                        inserted = true;
                    }
                }
                if depth == 0 && e.name().0 == "project" && !inserted {
                    write_raw(
                        &mut out,
                        &format!("{}\n", new_component(component, element)),
                    )?;
                    inserted = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        write_event(&mut out, event)?;
    }
    if !root_seen {
        return Err(xml_error(path, &reader, "no <project> element"));
    }
    String::from_utf8(out.into_inner())
        .map_err(|_| Error::failure(format!("{} is not UTF-8", path.display())))
}

/// A `<component>` holding only our element, indented as DataGrip writes it.
fn new_component(component: &str, element: &str) -> String {
    let attrs = if component == SHARED_COMPONENT {
        " format=\"xml\" multifile-model=\"true\""
    } else {
        ""
    };
    format!(
        "  <component name=\"{component}\"{attrs}>\n{}\n  </component>",
        indent(element, "    ")
    )
}

fn write_event(out: &mut XmlWriter, event: Event<'_>) -> Result<()> {
    out.write_event(event)
        .map_err(|e| Error::failure("cannot write XML").caused_by(e))
}

/// Our element is already well-formed XML made by the writer above; it goes in verbatim.
fn write_raw(out: &mut XmlWriter, xml: &str) -> Result<()> {
    use std::io::Write;
    out.get_mut()
        .write_all(xml.as_bytes())
        .map_err(|e| Error::failure("cannot write XML").caused_by(e))
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `cargo test fuzz`: the XML merge against generated project files.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::clients::datagrip::LOCAL_COMPONENT;
    use proptest::prelude::*;
    use quick_xml::escape::escape;

    fn well_formed(xml: &str) -> std::result::Result<(), String> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let (mut depth, mut roots) = (0i32, 0);
        loop {
            match reader.read_event() {
                Ok(Event::Start(_)) => {
                    roots += i32::from(depth == 0);
                    depth += 1;
                }
                Ok(Event::Empty(_)) => roots += i32::from(depth == 0),
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Eof) if depth == 0 && roots == 1 => return Ok(()),
                Ok(Event::Eof) => return Err(format!("{depth} left open, {roots} roots")),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// `(component, data source name)` of every data source, in order.
    fn data_sources(xml: &str) -> Vec<(String, String)> {
        let mut reader = Reader::from_str(xml);
        let mut component = String::new();
        let mut found = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                    if e.name().0 == "component" {
                        component = attribute(&e, "name").unwrap_or_default();
                    } else if e.name().0 == "data-source" {
                        found.push((component.clone(), attribute(&e, "name").unwrap_or_default()));
                    }
                }
                Ok(Event::Eof) | Err(_) => return found,
                _ => {}
            }
        }
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["prod", "dev", "a & b", "\"q\"", "<x>"])
                .prop_map(str::to_string),
            any::<String>().prop_filter("XML 1.0 characters", |s| {
                s.chars().all(|c| c == '\t' || c == '\n' || c >= ' ')
                    && !s.contains('\u{fffe}')
                    && !s.contains('\u{ffff}')
            }),
        ]
    }

    fn data_source_xml() -> impl Strategy<Value = String> {
        (name(), any::<bool>(), "[a-z:/ ]{0,12}").prop_map(|(name, empty, url)| {
            let name = escape(&name);
            if empty {
                format!("<data-source source=\"LOCAL\" name=\"{name}\" uuid=\"1\"/>")
            } else {
                format!("<data-source source=\"LOCAL\" name=\"{name}\" uuid=\"1\">\n      <jdbc-url>{url}</jdbc-url>\n      <nested><data-source name=\"{name}\"/></nested>\n    </data-source>")
            }
        })
    }

    fn component() -> impl Strategy<Value = String> {
        let names = prop::sample::select(vec![SHARED_COMPONENT, LOCAL_COMPONENT, "Other"]);
        (
            names,
            prop::collection::vec(data_source_xml(), 0..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(component, sources, empty, comment)| {
                if empty && sources.is_empty() {
                    return format!("<component name=\"{component}\"/>");
                }
                let mut out = format!("<component name=\"{component}\">\n");
                if comment {
                    out.push_str("    <!-- theirs -->\n");
                }
                for source in sources {
                    out.push_str(&format!("    {source}\n"));
                }
                out.push_str("  </component>");
                out
            })
    }

    fn project() -> impl Strategy<Value = String> {
        (any::<bool>(), prop::collection::vec(component(), 0..4)).prop_map(
            |(declaration, components)| {
                let mut out = String::new();
                if declaration {
                    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                }
                if components.is_empty() && declaration {
                    out.push_str("<project version=\"4\"/>\n");
                    return out;
                }
                out.push_str("<project version=\"4\">\n");
                for component in components {
                    out.push_str(&format!("  {component}\n"));
                }
                out.push_str("</project>\n");
                out
            },
        )
    }

    fn tag_soup() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "<project version=\"4\">",
            "</project>",
            "<component name=\"DataSourceManagerImpl\">",
            "<component name=\"DataSourceManagerImpl\"/>",
            "</component>",
            "<data-source name=\"prod\">",
            "<data-source name=\"prod\"/>",
            "</data-source>",
            "<x/>",
            "text &amp; more",
            "<!-- c -->",
            "<?xml version=\"1.0\"?>",
            "<![CDATA[<data-source>]]>",
            "<!DOCTYPE project>",
            "&bogus;",
            "<",
        ]);
        prop::collection::vec(pieces, 0..16).prop_map(|p| p.concat())
    }

    fn ours(name: &str) -> String {
        format!(
            "<data-source source=\"LOCAL\" name=\"{}\" uuid=\"ours\">\n  <jdbc-url>jdbc:postgresql://h:5432/db?a=1&amp;b=2</jdbc-url>\n</data-source>",
            escape(name)
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fuzz_datagrip_merge_never_panics_on_any_text(
            text in prop_oneof![any::<String>(), tag_soup()],
            name in name(),
        ) {
            for component in [SHARED_COMPONENT, LOCAL_COMPONENT] {
                if let Ok(merged) = merge(&text, Path::new("f.xml"), component, &name, &ours(&name)) {
                    // Whatever it accepted, it wrote well-formed XML.
                    prop_assert!(well_formed(&merged).is_ok() || well_formed(&text).is_err(), "{}", merged);
                }
                let _ = existing_uuid(&text, &name);
            }
        }

        /// In a valid project file: other data sources (and comments) survive, ours is there
        /// once in its component, and the result is well-formed XML.
        #[test]
        fn fuzz_datagrip_merge_keeps_others_and_stays_well_formed(
            text in project(),
            name in name(),
            shared in any::<bool>(),
        ) {
            let component = if shared { SHARED_COMPONENT } else { LOCAL_COMPONENT };
            prop_assert!(well_formed(&text).is_ok(), "generator: {}", text);
            let merged = merge(&text, Path::new("f.xml"), component, &name, &ours(&name))
                .map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert!(well_formed(&merged).is_ok(), "{:?}\n{}", well_formed(&merged), merged);
            let is_ours = |(c, n): &(String, String)| c == component && n == &name;
            let before: Vec<_> = data_sources(&text).into_iter().filter(|d| !is_ours(d)).collect();
            let after: Vec<_> = data_sources(&merged).into_iter().filter(|d| !is_ours(d)).collect();
            prop_assert_eq!(before, after);
            prop_assert_eq!(
                merged.matches("uuid=\"ours\"").count(),
                1,
                "ours not there once:\n{}", merged
            );
            prop_assert_eq!(text.matches("<!-- theirs -->").count(), merged.matches("<!-- theirs -->").count());
            // A second run replaces ours in place.
            let again = merge(&merged, Path::new("f.xml"), component, &name, &ours(&name))
                .map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert_eq!(again.matches("uuid=\"ours\"").count(), 1);
            prop_assert!(well_formed(&again).is_ok());
        }
    }
}

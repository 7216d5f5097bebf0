//! The first YAML document of `kind-config.yaml`, read as yaml.v3 reads it: nodes, anchors, aliases, tags.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Deepest nesting of lists and mappings (and of merge keys) accepted; kind configurations nest a
/// few levels, and this bounds the work on hostile input.
pub(super) const MAX_DEPTH: usize = 500;

/// A node of the first YAML document: where it starts and what it holds.
#[derive(Debug)]
pub(super) struct YNode {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) body: Body,
}

#[derive(Debug)]
pub(super) enum Body {
    Scalar(Scalar),
    List(Vec<YNode>),
    Map(Vec<(YNode, YNode)>),
    /// An anchored node, or an alias of one: the node itself, shared.
    Shared(Rc<YNode>),
}

#[derive(Debug)]
pub(super) struct Scalar {
    /// The text after YAML escape processing.
    pub(super) value: String,
    /// Written without quotes or block indicator.
    pub(super) plain: bool,
    /// Explicit tag, in yaml.v3's short form (`!!str`, `!`, `!local`).
    pub(super) tag: Option<String>,
}

impl YNode {
    pub(super) fn at(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    /// The node an alias or anchor stands for.
    pub(super) fn content(&self) -> &Self {
        let mut node = self;
        while let Body::Shared(target) = &node.body {
            node = target.as_ref();
        }
        node
    }
}

pub(super) struct Document {
    /// The first document's root (`None`: the stream holds no document).
    pub(super) root: Option<YNode>,
    /// Nodes read, aliases counted once.
    pub(super) size: usize,
}

/// Reads the first YAML document; like kind's decoder, what follows it is not read.
pub(super) fn read_document(text: &str) -> Result<Document, Refusal> {
    struct Open {
        at: (usize, usize),
        anchor: usize,
        map: bool,
        items: Vec<YNode>,
    }
    let mut anchors: HashMap<usize, Rc<YNode>> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    let mut root = None;
    let mut size = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| syntax_error(&error))?;
        let at = (span.start.line().max(1), span.start.col() + 1);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..))
            && open.len() >= MAX_DEPTH
        {
            return Err(Refusal::decode(
                at,
                format!("the YAML nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let node = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let scalar = Scalar {
                    value: value.into_owned(),
                    plain: matches!(style, ScalarStyle::Plain),
                    tag: tag.map(|tag| short_tag(&tag.handle, &tag.suffix)),
                };
                let node = YNode {
                    line: at.0,
                    column: at.1,
                    body: Body::Scalar(scalar),
                };
                share(anchor, node, &mut anchors)
            }
            Event::Alias(id) => {
                // An anchor is usable once its node is complete: an alias inside it is refused, as
                // yaml.v3 refuses "anchor value contains itself".
                let target = anchors.get(&id).cloned().ok_or_else(|| {
                    Refusal::decode(at, "an alias stands for a node that contains it".to_owned())
                })?;
                YNode {
                    line: at.0,
                    column: at.1,
                    body: Body::Shared(target),
                }
            }
            Event::SequenceStart(_, anchor, _) => {
                open.push(Open {
                    at,
                    anchor,
                    map: false,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                open.push(Open {
                    at,
                    anchor,
                    map: true,
                    items: Vec::new(),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(done) = open.pop() else {
                    return Err(Refusal::decode(
                        at,
                        "unexpected end of a collection".to_owned(),
                    ));
                };
                let body = if done.map {
                    let mut items = done.items.into_iter();
                    let mut pairs = Vec::new();
                    while let Some(key) = items.next() {
                        let Some(value) = items.next() else {
                            return Err(Refusal::decode(
                                key.at(),
                                "a mapping key has no value".to_owned(),
                            ));
                        };
                        pairs.push((key, value));
                    }
                    Body::Map(pairs)
                } else {
                    Body::List(done.items)
                };
                let node = YNode {
                    line: done.at.0,
                    column: done.at.1,
                    body,
                };
                share(done.anchor, node, &mut anchors)
            }
            Event::DocumentEnd | Event::StreamEnd => break,
            _ => continue,
        };
        size += 1;
        match open.last_mut() {
            Some(parent) => parent.items.push(node),
            None => root = Some(node),
        }
    }
    Ok(Document { root, size })
}

/// An anchored node becomes shared so that its aliases refer to it, not to copies.
pub(super) fn share(anchor: usize, node: YNode, anchors: &mut HashMap<usize, Rc<YNode>>) -> YNode {
    if anchor == 0 {
        return node;
    }
    let (line, column) = node.at();
    let shared = Rc::new(node);
    anchors.insert(anchor, Rc::clone(&shared));
    YNode {
        line,
        column,
        body: Body::Shared(shared),
    }
}

pub(super) fn short_tag(handle: &str, suffix: &str) -> String {
    let full = format!("{handle}{suffix}");
    match full.strip_prefix("tag:yaml.org,2002:") {
        Some(core) => format!("!!{core}"),
        None => full,
    }
}

pub(super) fn syntax_error(error: &ScanError) -> Refusal {
    let mark = error.marker();
    Refusal::decode(
        (mark.line().max(1), mark.col() + 1),
        error.info().to_owned(),
    )
}

//! The strict decode into kind's v1alpha4 types, as written (no defaults yet): exact field names, yaml.v3's conversions.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) const CLUSTER_FIELDS: &[&str] = &[
    "kind",
    "apiVersion",
    "name",
    "nodes",
    "networking",
    "featureGates",
    "runtimeConfig",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
];
pub(super) const NODE_FIELDS: &[&str] = &[
    "role",
    "image",
    "labels",
    "extraMounts",
    "extraPortMappings",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
];
pub(super) const NETWORKING_FIELDS: &[&str] = &[
    "ipFamily",
    "apiServerPort",
    "apiServerAddress",
    "podSubnet",
    "serviceSubnet",
    "disableDefaultCNI",
    "kubeProxyMode",
    "dnsSearch",
];
pub(super) const PATCH_FIELDS: &[&str] = &["group", "version", "kind", "patch"];
pub(super) const MOUNT_FIELDS: &[&str] = &[
    "containerPath",
    "hostPath",
    "readOnly",
    "selinuxRelabel",
    "propagation",
];
pub(super) const PORT_MAPPING_FIELDS: &[&str] =
    &["containerPort", "hostPort", "listenAddress", "protocol"];

pub(super) const A_STRING: &str = "a string";
pub(super) const AN_INTEGER: &str = "an integer";
pub(super) const A_BOOLEAN: &str = "a boolean (true or false)";
pub(super) const A_LIST: &str = "a list";
pub(super) const A_MAPPING: &str = "a mapping";

#[derive(Default)]
pub(super) struct RawCluster {
    pub(super) name: Option<Located<String>>,
    pub(super) nodes: Vec<RawNode>,
    /// Where `nodes` is written.
    pub(super) nodes_at: Option<(usize, usize)>,
    pub(super) networking: RawNetworking,
    pub(super) feature_gates: BTreeMap<String, bool>,
    pub(super) runtime_config: BTreeMap<String, String>,
    pub(super) kubeadm_config_patches: Vec<String>,
    pub(super) kubeadm_config_patches_json6902: Vec<PatchJson6902>,
    pub(super) containerd_config_patches: Vec<String>,
    pub(super) containerd_config_patches_json6902: Vec<String>,
}

#[derive(Default)]
pub(super) struct RawNetworking {
    pub(super) ip_family: Option<Located<String>>,
    pub(super) api_server_port: Option<Located<i32>>,
    pub(super) api_server_address: Option<Located<String>>,
    pub(super) pod_subnet: Option<Located<String>>,
    pub(super) service_subnet: Option<Located<String>>,
    pub(super) disable_default_cni: bool,
    pub(super) kube_proxy_mode: Option<Located<String>>,
    pub(super) dns_search: Option<Vec<String>>,
}

#[derive(Default)]
pub(super) struct RawNode {
    /// `nodes[i]`, the index in the file.
    pub(super) path: String,
    pub(super) role: Option<Located<String>>,
    pub(super) image: Option<String>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) extra_mounts: Vec<Mount>,
    pub(super) extra_port_mappings: Vec<RawPortMapping>,
    pub(super) kubeadm_config_patches: Vec<String>,
    pub(super) kubeadm_config_patches_json6902: Vec<PatchJson6902>,
}

#[derive(Default)]
pub(super) struct RawPortMapping {
    /// `nodes[i].extraPortMappings[j]`.
    pub(super) path: String,
    pub(super) at: (usize, usize),
    pub(super) container_port: Option<Located<i32>>,
    pub(super) host_port: Option<Located<i32>>,
    pub(super) listen_address: Option<Located<String>>,
    /// Upper-cased by kind; `None` when not written.
    pub(super) protocol: Option<Protocol>,
}

/// Kind's "" means unset, like an absent field.
pub(super) fn non_empty(value: &Option<Located<String>>) -> Option<&Located<String>> {
    value.as_ref().filter(|written| !written.value.is_empty())
}

pub(super) fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// `path: expected …, found …`.
pub(super) fn expected(node: &YNode, path: &str, what: &str) -> Refusal {
    let mut message = format!("{}expected {what}, found {}", prefix(path), describe(node));
    if what == AN_INTEGER
        && let Body::Scalar(scalar) = &node.content().body
        && !scalar.plain
        && matches!(resolve_plain(&scalar.value), Resolved::Int(_))
    {
        message = format!("{message} (write {} without quotes)", scalar.value);
    }
    Refusal::decode(node.at(), message)
}

pub(super) fn describe(node: &YNode) -> String {
    match &node.content().body {
        Body::List(_) => A_LIST.to_owned(),
        Body::Map(_) => A_MAPPING.to_owned(),
        Body::Scalar(scalar) => match resolve(scalar) {
            Ok(Resolved::Null) => "null".to_owned(),
            Ok(Resolved::Bool(_)) => format!("{} (a boolean)", scalar.value),
            Ok(Resolved::Int(_)) => format!("{} (an integer)", scalar.value),
            Ok(Resolved::Float(_)) => format!("{} (a number)", scalar.value),
            Ok(Resolved::Str(text)) => format!("the string {text:?}"),
            Err(_) => format!("{:?}", scalar.value),
        },
        Body::Shared(_) => "an alias".to_owned(),
    }
}

pub(super) fn unknown_field(key: &YNode, path: &str, name: &str, known: &[&str]) -> Refusal {
    let place = if path.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    };
    let message = match known.iter().find(|field| field.eq_ignore_ascii_case(name)) {
        Some(field) => format!(
            "unknown field `{name}`{place}: kind's field is `{field}` (field names are case-sensitive)"
        ),
        None => format!(
            "unknown field `{name}`{place}, expected one of {}",
            known.join(", ")
        ),
    };
    Refusal::decode(key.at(), message)
}

/// `kind` and `apiVersion` as written.
pub(super) type TypeMeta = (Option<Located<String>>, Option<Located<String>>);

/// Decoding steps allowed beyond four per node read: aliases may repeat parts of the document,
/// not without end.
pub(super) const STEP_ALLOWANCE: usize = 10_000;

/// Decodes the document into kind's types as yaml.v3 (strict) does.
pub(super) struct Decoder {
    pub(super) steps: usize,
    pub(super) budget: usize,
}

impl Decoder {
    pub(super) fn new(size: usize) -> Self {
        Self {
            steps: 0,
            budget: size.saturating_mul(4).saturating_add(STEP_ALLOWANCE),
        }
    }

    pub(super) fn step(&mut self, node: &YNode) -> Result<(), Refusal> {
        self.steps += 1;
        if self.steps > self.budget {
            return Err(Refusal::decode(
                node.at(),
                "the document repeats its aliases too often (kind's decoder refuses excessive aliasing)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// A string field: any scalar, as written (yaml.v3 keeps the text of a number or a boolean);
    /// `None` for null.
    pub(super) fn string(
        &mut self,
        node: &YNode,
        path: &str,
    ) -> Result<Option<Located<String>>, Refusal> {
        self.step(node)?;
        let Body::Scalar(scalar) = &node.content().body else {
            return Err(expected(node, path, A_STRING));
        };
        let value = match resolve(scalar)
            .map_err(|message| Refusal::decode(node.at(), format!("{}{message}", prefix(path))))?
        {
            Resolved::Null => return Ok(None),
            Resolved::Str(text) => text.into_owned(),
            Resolved::Bool(_) | Resolved::Int(_) | Resolved::Float(_) => scalar.value.clone(),
        };
        Ok(Some(Located {
            value,
            line: node.line,
            column: node.column,
        }))
    }

    /// An int32 field: an integer (a number with a fraction is truncated, as yaml.v3 does; a
    /// quoted number is a string, refused); `None` for null.
    pub(super) fn int32(
        &mut self,
        node: &YNode,
        path: &str,
    ) -> Result<Option<Located<i32>>, Refusal> {
        self.step(node)?;
        let Body::Scalar(scalar) = &node.content().body else {
            return Err(expected(node, path, AN_INTEGER));
        };
        let value = match resolve(scalar)
            .map_err(|message| Refusal::decode(node.at(), format!("{}{message}", prefix(path))))?
        {
            Resolved::Null => return Ok(None),
            Resolved::Int(value) => i32::try_from(value).ok(),
            Resolved::Float(value) => {
                let whole = value.trunc();
                (value.is_finite() && whole >= f64::from(i32::MIN) && whole <= f64::from(i32::MAX))
                    .then_some(whole as i32)
            }
            Resolved::Bool(_) | Resolved::Str(_) => return Err(expected(node, path, AN_INTEGER)),
        };
        let value = value.ok_or_else(|| {
            Refusal::decode(
                node.at(),
                format!(
                    "{}{} is out of range of kind's 32-bit integer",
                    prefix(path),
                    scalar.value
                ),
            )
        })?;
        Ok(Some(Located {
            value,
            line: node.line,
            column: node.column,
        }))
    }

    /// A bool field: true or false, or (yaml.v3 allows it for a bool field, even quoted) one of
    /// YAML 1.1's y/yes/on and n/no/off; false for null.
    pub(super) fn boolean(&mut self, node: &YNode, path: &str) -> Result<bool, Refusal> {
        self.step(node)?;
        let Body::Scalar(scalar) = &node.content().body else {
            return Err(expected(node, path, A_BOOLEAN));
        };
        match resolve(scalar)
            .map_err(|message| Refusal::decode(node.at(), format!("{}{message}", prefix(path))))?
        {
            Resolved::Null => Ok(false),
            Resolved::Bool(value) => Ok(value),
            Resolved::Str(text) => match text.as_ref() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(false),
                _ => Err(expected(node, path, A_BOOLEAN)),
            },
            Resolved::Int(_) | Resolved::Float(_) => Err(expected(node, path, A_BOOLEAN)),
        }
    }

    /// A list field (`None` for null); yaml.v3 drops null elements.
    pub(super) fn list<'n, T>(
        &mut self,
        node: &'n YNode,
        path: &str,
        mut item: impl FnMut(&mut Self, &'n YNode, String) -> Result<T, Refusal>,
    ) -> Result<Option<Vec<T>>, Refusal> {
        self.step(node)?;
        let items = match &node.content().body {
            Body::List(items) => items,
            _ if is_null(node) => return Ok(None),
            _ => return Err(expected(node, path, A_LIST)),
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, element) in items.iter().enumerate() {
            if is_null(element) {
                continue;
            }
            out.push(item(self, element, format!("{path}[{index}]"))?);
        }
        Ok(Some(out))
    }

    pub(super) fn strings(
        &mut self,
        node: &YNode,
        path: &str,
    ) -> Result<Option<Vec<String>>, Refusal> {
        self.list(node, path, |decoder, item, path| {
            Ok(decoder
                .string(item, &path)?
                .map(|text| text.value)
                .unwrap_or_default())
        })
    }

    /// A map field with string keys; yaml.v3 drops a null key and stores a null value as the zero
    /// value.
    pub(super) fn map<'n, T: Default>(
        &mut self,
        node: &'n YNode,
        path: &str,
        mut value: impl FnMut(&mut Self, &'n YNode, &str) -> Result<T, Refusal>,
    ) -> Result<BTreeMap<String, T>, Refusal> {
        self.step(node)?;
        let mut out = BTreeMap::new();
        match &node.content().body {
            Body::Map(_) => {}
            _ if is_null(node) => return Ok(out),
            _ => return Err(expected(node, path, A_MAPPING)),
        }
        for (key, item) in self.entries(node, path, 0)? {
            let Some(name) = self.string(key, path)? else {
                continue;
            };
            let entry_path = format!("{path}[{:?}]", name.value);
            let decoded = if is_null(item) {
                T::default()
            } else {
                value(self, item, &entry_path)?
            };
            out.insert(name.value, decoded);
        }
        Ok(out)
    }

    /// A struct: each known field's value to `each`; an unknown field is refused (KnownFields).
    pub(super) fn fields<'n>(
        &mut self,
        node: &'n YNode,
        path: &str,
        known: &'static [&'static str],
        mut each: impl FnMut(&mut Self, &'static str, &'n YNode, String) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        self.step(node)?;
        match &node.content().body {
            Body::Map(_) => {}
            _ if is_null(node) => return Ok(()),
            _ => return Err(expected(node, path, A_MAPPING)),
        }
        for (key, value) in self.entries(node, path, 0)? {
            let Some(name) = self.string(key, path)? else {
                continue;
            };
            let Some(field) = known.iter().copied().find(|field| *field == name.value) else {
                return Err(unknown_field(key, path, &name.value, known));
            };
            let field_path = if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            each(self, field, value, field_path)?;
        }
        Ok(())
    }

    /// The entries of a mapping as yaml.v3 decodes them: a key written twice is refused, and `<<`
    /// merge keys add the merged mappings' entries after the mapping's own (which win; among merged
    /// mappings the earlier wins).
    pub(super) fn entries<'n>(
        &mut self,
        node: &'n YNode,
        path: &str,
        depth: usize,
    ) -> Result<Vec<(&'n YNode, &'n YNode)>, Refusal> {
        let Body::Map(pairs) = &node.content().body else {
            return Err(expected(node, path, A_MAPPING));
        };
        let mut first_lines: HashMap<&'n str, usize> = HashMap::new();
        for (key, _) in pairs {
            self.step(key)?;
            if let Body::Scalar(scalar) = &key.content().body {
                match first_lines.entry(scalar.value.as_str()) {
                    Entry::Occupied(first) => {
                        return Err(Refusal::decode(
                            key.at(),
                            format!(
                                "{}mapping key {:?} already defined at line {}",
                                prefix(path),
                                scalar.value,
                                first.get()
                            ),
                        ));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(key.line);
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(pairs.len());
        let mut seen: HashSet<&'n str> = HashSet::new();
        let mut merge = None;
        for (key, value) in pairs {
            if is_merge_key(key) {
                merge = Some(value);
                continue;
            }
            if let Body::Scalar(scalar) = &key.content().body {
                seen.insert(scalar.value.as_str());
            }
            out.push((key, value));
        }
        let Some(merge) = merge else {
            return Ok(out);
        };
        if depth >= MAX_DEPTH {
            return Err(Refusal::decode(
                merge.at(),
                format!(
                    "{}merge keys nest deeper than {MAX_DEPTH} levels",
                    prefix(path)
                ),
            ));
        }
        let sources: Vec<&'n YNode> = match &merge.content().body {
            Body::Map(_) => vec![merge],
            Body::List(items)
                if items
                    .iter()
                    .all(|item| matches!(&item.content().body, Body::Map(_))) =>
            {
                items.iter().collect()
            }
            _ => {
                return Err(Refusal::decode(
                    merge.at(),
                    format!(
                        "{}a merge key (<<) takes a mapping or a list of mappings",
                        prefix(path)
                    ),
                ));
            }
        };
        for source in sources {
            for (key, value) in self.entries(source, path, depth + 1)? {
                if let Body::Scalar(scalar) = &key.content().body
                    && !seen.insert(scalar.value.as_str())
                {
                    continue;
                }
                out.push((key, value));
            }
        }
        Ok(out)
    }

    /// load.go's first, lenient pass: `kind` and `apiVersion` of the document, other fields
    /// ignored.
    pub(super) fn type_meta(&mut self, root: Option<&YNode>) -> Result<TypeMeta, Refusal> {
        let Some(root) = root else {
            return Ok((None, None));
        };
        match &root.content().body {
            Body::Map(_) => {}
            _ if is_null(root) => return Ok((None, None)),
            _ => {
                return Err(expected(
                    root,
                    "",
                    "a mapping of Cluster fields (kind, apiVersion, nodes, …)",
                ));
            }
        }
        let (mut kind, mut api_version) = (None, None);
        for (key, value) in self.entries(root, "", 0)? {
            match self.string(key, "")?.map(|key| key.value).as_deref() {
                Some("kind") => kind = self.string(value, "kind")?,
                Some("apiVersion") => api_version = self.string(value, "apiVersion")?,
                _ => {}
            }
        }
        Ok((kind, api_version))
    }

    /// The strict pass: a v1alpha4 Cluster.
    pub(super) fn cluster(&mut self, root: &YNode) -> Result<RawCluster, Refusal> {
        let mut raw = RawCluster::default();
        self.fields(root, "", CLUSTER_FIELDS, |decoder, field, value, path| {
            match field {
                "name" => raw.name = decoder.string(value, &path)?,
                "nodes" => {
                    raw.nodes_at = Some(value.at());
                    raw.nodes = decoder.list(value, &path, Self::node)?.unwrap_or_default();
                }
                "networking" => raw.networking = decoder.networking(value, &path)?,
                "featureGates" => {
                    raw.feature_gates = decoder.map(value, &path, |decoder, item, path| {
                        decoder.boolean(item, path)
                    })?;
                }
                "runtimeConfig" => {
                    raw.runtime_config = decoder.map(value, &path, |decoder, item, path| {
                        Ok(decoder
                            .string(item, path)?
                            .map(|text| text.value)
                            .unwrap_or_default())
                    })?;
                }
                "kubeadmConfigPatches" => {
                    raw.kubeadm_config_patches = decoder.strings(value, &path)?.unwrap_or_default();
                }
                "kubeadmConfigPatchesJSON6902" => {
                    raw.kubeadm_config_patches_json6902 =
                        decoder.list(value, &path, Self::patch)?.unwrap_or_default();
                }
                "containerdConfigPatches" => {
                    raw.containerd_config_patches =
                        decoder.strings(value, &path)?.unwrap_or_default();
                }
                "containerdConfigPatchesJSON6902" => {
                    raw.containerd_config_patches_json6902 =
                        decoder.strings(value, &path)?.unwrap_or_default();
                }
                // kind and apiVersion, checked by the first pass.
                _ => {
                    decoder.string(value, &path)?;
                }
            }
            Ok(())
        })?;
        Ok(raw)
    }

    pub(super) fn networking(
        &mut self,
        node: &YNode,
        path: &str,
    ) -> Result<RawNetworking, Refusal> {
        let mut raw = RawNetworking::default();
        self.fields(
            node,
            path,
            NETWORKING_FIELDS,
            |decoder, field, value, path| {
                match field {
                    "ipFamily" => raw.ip_family = decoder.string(value, &path)?,
                    "apiServerPort" => raw.api_server_port = decoder.int32(value, &path)?,
                    "apiServerAddress" => raw.api_server_address = decoder.string(value, &path)?,
                    "podSubnet" => raw.pod_subnet = decoder.string(value, &path)?,
                    "serviceSubnet" => raw.service_subnet = decoder.string(value, &path)?,
                    "disableDefaultCNI" => {
                        raw.disable_default_cni = decoder.boolean(value, &path)?
                    }
                    "kubeProxyMode" => raw.kube_proxy_mode = decoder.string(value, &path)?,
                    _ => raw.dns_search = decoder.strings(value, &path)?,
                }
                Ok(())
            },
        )?;
        Ok(raw)
    }

    pub(super) fn node(&mut self, node: &YNode, path: String) -> Result<RawNode, Refusal> {
        let mut raw = RawNode {
            path: path.clone(),
            ..RawNode::default()
        };
        self.fields(node, &path, NODE_FIELDS, |decoder, field, value, path| {
            match field {
                "role" => raw.role = decoder.string(value, &path)?,
                "image" => raw.image = decoder.string(value, &path)?.map(|image| image.value),
                "labels" => {
                    raw.labels = decoder.map(value, &path, |decoder, item, path| {
                        Ok(decoder
                            .string(item, path)?
                            .map(|text| text.value)
                            .unwrap_or_default())
                    })?;
                }
                "extraMounts" => {
                    raw.extra_mounts = decoder.list(value, &path, Self::mount)?.unwrap_or_default();
                }
                "extraPortMappings" => {
                    raw.extra_port_mappings = decoder
                        .list(value, &path, Self::port_mapping)?
                        .unwrap_or_default();
                }
                "kubeadmConfigPatches" => {
                    raw.kubeadm_config_patches = decoder.strings(value, &path)?.unwrap_or_default();
                }
                _ => {
                    raw.kubeadm_config_patches_json6902 =
                        decoder.list(value, &path, Self::patch)?.unwrap_or_default();
                }
            }
            Ok(())
        })?;
        Ok(raw)
    }

    pub(super) fn patch(&mut self, node: &YNode, path: String) -> Result<PatchJson6902, Refusal> {
        let mut patch = PatchJson6902::default();
        self.fields(node, &path, PATCH_FIELDS, |decoder, field, value, path| {
            let text = decoder
                .string(value, &path)?
                .map(|text| text.value)
                .unwrap_or_default();
            match field {
                "group" => patch.group = text,
                "version" => patch.version = text,
                "kind" => patch.kind = text,
                _ => patch.patch = text,
            }
            Ok(())
        })?;
        Ok(patch)
    }

    pub(super) fn mount(&mut self, node: &YNode, path: String) -> Result<Mount, Refusal> {
        let mut mount = Mount::default();
        let mut propagation = None;
        self.fields(node, &path, MOUNT_FIELDS, |decoder, field, value, path| {
            match field {
                "containerPath" => {
                    mount.container_path = decoder
                        .string(value, &path)?
                        .map(|text| text.value)
                        .unwrap_or_default();
                }
                "hostPath" => {
                    mount.host_path = decoder
                        .string(value, &path)?
                        .map(|text| text.value)
                        .unwrap_or_default();
                }
                "readOnly" => mount.read_only = decoder.boolean(value, &path)?,
                "selinuxRelabel" => mount.selinux_relabel = decoder.boolean(value, &path)?,
                _ => propagation = decoder.string(value, &path)?,
            }
            Ok(())
        })?;
        // yaml.go, Mount.UnmarshalYAML: the propagation exactly as kind spells it.
        if let Some(written) = non_empty(&propagation) {
            mount.propagation = Some(MountPropagation::from_kind(&written.value).ok_or_else(|| {
                Refusal::decode(
                    written.at(),
                    format!(
                        "{path}.propagation: {:?} is not a mount propagation: kind's are None, HostToContainer and Bidirectional",
                        written.value
                    ),
                )
            })?);
        }
        Ok(mount)
    }

    pub(super) fn port_mapping(
        &mut self,
        node: &YNode,
        path: String,
    ) -> Result<RawPortMapping, Refusal> {
        let mut mapping = RawPortMapping {
            path: path.clone(),
            at: node.at(),
            ..RawPortMapping::default()
        };
        let mut protocol = None;
        self.fields(
            node,
            &path,
            PORT_MAPPING_FIELDS,
            |decoder, field, value, path| {
                match field {
                    "containerPort" => mapping.container_port = decoder.int32(value, &path)?,
                    "hostPort" => mapping.host_port = decoder.int32(value, &path)?,
                    "listenAddress" => mapping.listen_address = decoder.string(value, &path)?,
                    _ => protocol = decoder.string(value, &path)?,
                }
                Ok(())
            },
        )?;
        // yaml.go, PortMapping.UnmarshalYAML: upper-cased, then TCP, UDP or SCTP.
        if let Some(written) = non_empty(&protocol) {
            mapping.protocol = Some(
                Protocol::from_kind(&written.value.to_uppercase()).ok_or_else(|| {
                    Refusal::decode(
                        written.at(),
                        format!(
                            "{path}.protocol: {:?} is not a protocol: kind's are TCP, UDP and SCTP (in any case)",
                            written.value
                        ),
                    )
                })?,
            );
        }
        Ok(mapping)
    }
}

pub(super) fn is_merge_key(key: &YNode) -> bool {
    matches!(&key.content().body, Body::Scalar(scalar)
    if scalar.value == "<<"
        && match scalar.tag.as_deref() {
            None => scalar.plain,
            Some(tag) => tag == "!" || tag == "!!merge",
        })
}

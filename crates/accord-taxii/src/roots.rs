//! What the server serves: its API roots and the collections under each.

/// The server's shape, built from the node configuration.
#[derive(Debug, Clone)]
pub struct ServerModel {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// Name of the default API root, if any.
    pub default_root: Option<String>,
    pub roots: Vec<ApiRoot>,
    /// Key that authenticates `next` cursors, so clients cannot forge them.
    pub cursor_key: [u8; 32],
    /// Largest `limit` honoured; larger requests get this many.
    pub max_page: usize,
    /// `limit` when the client gives none.
    pub default_page: usize,
}

#[derive(Debug, Clone)]
pub struct ApiRoot {
    /// The path segment (`/{name}/`).
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub max_content_length: usize,
    pub collections: Vec<Collection>,
}

#[derive(Debug, Clone)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
}

impl ServerModel {
    pub fn root(&self, name: &str) -> Option<&ApiRoot> {
        self.roots.iter().find(|r| r.name == name)
    }
}

impl ApiRoot {
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id == id)
    }
}

impl ServerModel {
    /// The API roots and collections to serve, from a node's configuration.
    pub fn from_config(
        config: &accord_node::config::Config,
        cursor_key: [u8; 32],
    ) -> Result<ServerModel, String> {
        let roots = config
            .api_roots()
            .into_iter()
            .map(|r| {
                let collections = r
                    .collections
                    .iter()
                    .map(|name| {
                        let c = config
                            .collection(Some(name))
                            .ok_or_else(|| format!("api root {}: unknown collection {name:?}", r.name))?;
                        Ok(Collection {
                            id: c.id.clone(),
                            title: c.title.clone(),
                            description: c.description.clone(),
                            alias: c.alias.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(ApiRoot {
                    name: r.name,
                    title: r.title,
                    description: r.description,
                    max_content_length: r.max_content_length,
                    collections,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ServerModel {
            title: config.server.title.clone(),
            description: config.server.description.clone(),
            contact: config.server.contact.clone(),
            default_root: config.server.default_api_root.clone(),
            roots,
            cursor_key,
            max_page: config.server.max_page_size,
            default_page: config.server.page_size,
        })
    }
}

//! Historical retrieval: point-in-time correct training sets from the offline store.

use larder_offline::{EntityRows, HistoricalRequest, RecordBatchStream, ViewRequest};
use larder_registry::view::ProjectView;

use crate::error::{Error, Result};
use crate::online::FeatureSelection;
use crate::store::FeatureStore;

impl FeatureStore {
    /// Builds the offline request for `selection` (feature references or a feature service).
    pub async fn historical_request(
        &self,
        entity_rows: EntityRows,
        selection: &FeatureSelection,
        full_feature_names: bool,
    ) -> Result<HistoricalRequest> {
        let snapshot = self.snapshot().await?;
        let registry = ProjectView::new(&snapshot, self.project());
        let mut views: Vec<ViewRequest> = Vec::new();
        match selection {
            FeatureSelection::Refs(refs) => {
                for r in refs {
                    let (view, feature) = r.split_once(':').ok_or_else(|| {
                        Error::InvalidRequest(format!(
                            "feature reference `{r}` must look like `view:feature`"
                        ))
                    })?;
                    if let Some(existing) = views.iter_mut().find(|v| v.view.name == view) {
                        if !existing.features.iter().any(|f| f == feature) {
                            existing.features.push(feature.to_string());
                        }
                        continue;
                    }
                    let fv = registry.feature_view(view)?;
                    views.push(ViewRequest {
                        name_to_use: fv.name.clone(),
                        view: fv,
                        features: vec![feature.to_string()],
                        join_key_map: Default::default(),
                    });
                }
            }
            FeatureSelection::Service(name) => {
                for p in registry.feature_service(name)?.projections {
                    let fv = registry.feature_view(&p.view)?;
                    views.push(ViewRequest {
                        name_to_use: p.alias.clone().unwrap_or_else(|| fv.name.clone()),
                        view: fv,
                        features: p.features.iter().map(|f| f.name.clone()).collect(),
                        join_key_map: p.join_key_map.clone(),
                    });
                }
            }
        }
        for v in &views {
            for f in &v.features {
                if v.view.feature(f).is_none() {
                    return Err(Error::NotFound(format!(
                        "feature `{f}` does not exist in feature view `{}`; its features are: {}",
                        v.view.name,
                        v.view.feature_names()
                    )));
                }
            }
        }
        if views.is_empty() {
            return Err(Error::InvalidRequest("no features requested".into()));
        }
        Ok(HistoricalRequest {
            entity_rows,
            views,
            full_feature_names,
        })
    }

    /// A point-in-time correct training set, streamed as Arrow record batches.
    pub async fn get_historical_features(
        &self,
        entity_rows: EntityRows,
        selection: &FeatureSelection,
        full_feature_names: bool,
    ) -> Result<RecordBatchStream> {
        let request = self
            .historical_request(entity_rows, selection, full_feature_names)
            .await?;
        Ok(self
            .offline_store()
            .await?
            .get_historical_features(&request)
            .await?)
    }
}

# Feast 0.67 definitions of the interop repo. definitions.yaml beside this file declares the same
# objects in Larder's YAML; the registry checks require both tools to see them as identical.
# Feast only reads *.py here and Larder only *.yaml, so one directory serves both.
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import (Array, Bool, Bytes, Float32, Float64, Int32, Int64, String,
                         UnixTimestamp)

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64,
                description="driver id", tags={"owner": "ops"})

driver_stats_source = FileSource(
    name="driver_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    description="hourly driver stats",
)

driver_profile_source = FileSource(
    name="driver_profile_source",
    path="data/driver_profile.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

driver_live_batch = FileSource(
    name="driver_live_batch",
    path="data/driver_live.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

driver_live_push = PushSource(name="driver_live_push", batch_source=driver_live_batch)

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
        Field(name="rating", dtype=Float64),
        Field(name="earnings", dtype=Float64),
        Field(name="distance_km", dtype=Float32),
        Field(name="trips_today", dtype=Int64),
        Field(name="cancellations", dtype=Int64),
        Field(name="speed_avg", dtype=Float64),
        Field(name="city", dtype=String),
    ],
    online=True,
    source=driver_stats_source,
    tags={"team": "drivers", "tier": "gold"},
    description="driver statistics",
    owner="ops@example.com",
)

driver_profile = FeatureView(
    name="driver_profile",
    entities=[driver],
    ttl=timedelta(days=30),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="seniority", dtype=Int32),
        Field(name="is_active", dtype=Bool),
        Field(name="signup_ts", dtype=UnixTimestamp),
        Field(name="badge", dtype=Bytes),
        Field(name="trip_ids", dtype=Array(Int64)),
        Field(name="languages", dtype=Array(String)),
        Field(name="scores", dtype=Array(Float64)),
    ],
    online=True,
    source=driver_profile_source,
    tags={"team": "drivers"},
)

driver_live = FeatureView(
    name="driver_live",
    entities=[driver],
    ttl=timedelta(hours=12),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="lat", dtype=Float64),
        Field(name="lon", dtype=Float64),
        Field(name="pings", dtype=Int64),
        Field(name="status", dtype=String),
    ],
    online=True,
    source=driver_live_push,
)

driver_activity = FeatureService(
    name="driver_activity",
    features=[driver_hourly_stats, driver_live[["lat", "lon"]]],
    tags={"purpose": "ranking"},
    description="features for ranking",
)

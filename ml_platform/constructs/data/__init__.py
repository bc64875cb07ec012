"""The data platform: lake buckets, event stream, Firehose delivery, Glue catalog, Lake Formation,
Athena, Glue jobs and workflow, EMR Serverless (runtime code: glue_jobs/, lambda/firehose_transform/)."""

"""The features-zone crawler and the Glue workflow that chains raw -> curated -> features -> crawl."""
from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.constructs.data.glue_jobs import GlueSecurity


class SchemaCrawler(Construct):
    """A crawler for a zone whose schema evolves (the features zone: columns follow the encoders).

    Behaviour: runs under `security`; adds and updates tables and columns, never deletes a table
    (a vanished path is logged, not dropped); compatible schemas under one path are one table.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, role: iam.IRole,
                 database_name: str, paths: Sequence[str], security: GlueSecurity) -> None:
        super().__init__(scope, construct_id)
        self.crawler = glue.CfnCrawler(
            self, "Crawler", name=name, role=role.role_arn, database_name=database_name,
            description="Catalogs the training-ready feature datasets as their columns evolve",
            targets=glue.CfnCrawler.TargetsProperty(
                s3_targets=[glue.CfnCrawler.S3TargetProperty(path=p) for p in paths]),
            crawler_security_configuration=security.name,
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior="CRAWL_EVERYTHING"),
            configuration=json.dumps({
                "Version": 1.0,
                "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
            }),
        )
        self.name = self.crawler.ref


class EtlWorkflow(Construct):
    """A Glue workflow: start (on demand, or on `schedule` when given) -> each job in turn on
    success of the previous one -> the crawler. One run at a time."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, job_names: Sequence[str],
                 crawler_name: str | None, schedule: str | None) -> None:
        super().__init__(scope, construct_id)
        if not job_names:
            raise ValueError("a workflow needs at least one job")
        self.workflow = glue.CfnWorkflow(
            self, "Workflow", name=name, max_concurrent_runs=1,
            description="raw -> curated -> training-ready features, then catalog the features")
        self.workflow_name = name  # the literal name: other stacks add triggers to the workflow by it
        workflow_name = self.workflow.ref
        self.triggers = [glue.CfnTrigger(
            self, "Start", workflow_name=workflow_name,
            type="SCHEDULED" if schedule else "ON_DEMAND",
            schedule=schedule,
            start_on_creation=True if schedule else None,
            actions=[glue.CfnTrigger.ActionProperty(job_name=job_names[0])])]
        steps: list[tuple[str, glue.CfnTrigger.ActionProperty]] = [
            (f"After{i}", glue.CfnTrigger.ActionProperty(job_name=j)) for i, j in enumerate(job_names[1:], 1)]
        if crawler_name is not None:
            steps.append(("Crawl", glue.CfnTrigger.ActionProperty(crawler_name=crawler_name)))
        for (trigger_id, action), previous in zip(steps, job_names, strict=False):
            self.triggers.append(glue.CfnTrigger(
                self, trigger_id, workflow_name=workflow_name, type="CONDITIONAL", start_on_creation=True,
                predicate=glue.CfnTrigger.PredicateProperty(
                    logical="AND",
                    conditions=[glue.CfnTrigger.ConditionProperty(
                        job_name=previous, logical_operator="EQUALS", state="SUCCEEDED")]),
                actions=[action]))


def alert_on_failures(scope: Construct, *, job_names: Sequence[str], crawler_name: str | None,
                      alerts_topic: sns.ITopic) -> list[events.Rule]:
    """EventBridge rules (IDs EtlFailures, CrawlerFailures in `scope`) that notify `alerts_topic` when
    one of `job_names` fails, times out or stops, or the crawler (where there is one) fails."""
    # By ARN: the topic's own policy already admits EventBridge of this account; the rule target
    # must not add a second, unconditioned statement to it.
    topic = sns.Topic.from_topic_arn(scope, "AlertTopic", alerts_topic.topic_arn)
    names = list(job_names)
    jobs = events.Rule(
        scope, "EtlFailures", description="A platform Glue job failed, timed out or stopped",
        event_pattern=events.EventPattern(
            source=["aws.glue"], detail_type=["Glue Job State Change"],
            detail={"jobName": names, "state": ["FAILED", "TIMEOUT", "STOPPED"]}),
        targets=[targets.SnsTopic(topic)])
    if crawler_name is None:
        return [jobs]
    crawler = events.Rule(
        scope, "CrawlerFailures", description="The features crawler failed",
        event_pattern=events.EventPattern(
            source=["aws.glue"], detail_type=["Glue Crawler State Change"],
            detail={"crawlerName": [crawler_name], "state": ["Failed"]}),
        targets=[targets.SnsTopic(topic)])
    return [jobs, crawler]

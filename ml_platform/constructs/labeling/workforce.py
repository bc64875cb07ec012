"""The private workforce Ground Truth sends tasks to: Cognito user pool, workforce, workteam.

Behaviour:
- user pool: no self sign-up (an administrator adds workers), MFA required (TOTP), 12+ character
  passwords with every character class and 1-day temporary passwords, threat protection enforced
  (Plus feature plan), e-mail sign-in, deletion protection unless the environment is disposable;
- a Cognito domain and an app client as Ground Truth requires it: a client secret, the OAuth
  authorization-code and implicit flows, scopes email/openid/profile;
- `AWS::SageMaker::Workforce` on that pool and client, and `AWS::SageMaker::Workteam` whose members
  are the configured Cognito groups, notifying workers through a KMS-encrypted topic.

The portal login: CreateWorkforce rewrites the app client's callback and logout URLs to the
labeling portal (`https://<subdomain>/oauth2/idpresponse`, `/logout`). CloudFormation knows
nothing of that, so any later update of the client would put the template's URLs back and break
every worker's sign-in. CloudFormation has no "ignore changes"; instead `RestorePortalUrls` (an SDK
custom resource after the workforce) calls UpdateUserPoolClient with the template's full client
settings plus the portal URLs read from the workforce's SubDomain attribute. Its parameters contain
every client setting, so each change of the client also re-runs it, right after CloudFormation's
update of the client; an unchanged client is never touched by either.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from ml_platform import nag
from ml_platform.constructs.foundation.roles import PlatformRole

OAUTH_SCOPES = ("email", "openid", "profile")
# Until SageMaker writes the portal's URLs, the client needs some callback URL to be valid.
PLACEHOLDER_CALLBACK = "https://localhost/oauth2/idpresponse"
PLACEHOLDER_LOGOUT = "https://localhost/logout"


class PrivateWorkforce(Construct):
    """Cognito-backed private workforce and its workteam; `workteam_arn` is what jobs name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        groups: Sequence[str],
        topic_key: kms.IKey,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        restore_role_name: str,
        removal_policy: cdk.RemovalPolicy,
        existing_workforce_name: str | None = None,
        existing_workteam_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.notification_topic = self._notification_topic(name, topic_key)
        self.user_pool: cognito.UserPool | None = None
        self.workforce: sagemaker.CfnWorkforce | None = None
        workforce_name = existing_workforce_name or name
        if existing_workforce_name is None:
            self._cognito(name, removal_policy)
            self._workforce(name)
            self._restore_portal_urls(restore_role_name, logs_key, log_retention, removal_policy)
        self.workteam_arn: str
        if existing_workteam_arn is not None:
            self.workteam_arn = existing_workteam_arn
        else:
            if self.user_pool is None:
                raise ValueError(
                    "a new workteam on an existing workforce needs that workforce's Cognito "
                    "pool: name an existing_workteam_arn as well"
                )
            self._workteam(name, workforce_name, groups)

    def _notification_topic(self, name: str, topic_key: kms.IKey) -> sns.Topic:
        """The workteam's task notices to workers, encrypted with `topic_key`, published by SageMaker."""
        topic = sns.Topic(
            self,
            "WorkerNotifications",
            master_key=topic_key,
            enforce_ssl=True,
            display_name=f"{name} labeling tasks for workers",
        )
        # SageMaker publishes the task notices on the workteam's behalf (SageMaker Developer Guide,
        # "Create the Amazon SNS topic" for work teams): only for workteams of this account.
        stack = cdk.Stack.of(self)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SageMakerPublishesTaskNotices",
                principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"arn:aws:sagemaker:{stack.region}:{stack.account}:workteam/*"},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        return topic

    def _cognito(self, name: str, removal_policy: cdk.RemovalPolicy) -> None:
        pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(1),
            ),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=removal_policy is cdk.RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.user_pool = pool
        self.domain = pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{name}-labeling")
        )
        self.client = pool.add_client(
            "PortalClient",
            generate_secret=True,
            prevent_user_existence_errors=True,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=True),
                scopes=[cognito.OAuthScope.EMAIL, cognito.OAuthScope.OPENID, cognito.OAuthScope.PROFILE],
                callback_urls=[PLACEHOLDER_CALLBACK],
                logout_urls=[PLACEHOLDER_LOGOUT],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        )

    def _workforce(self, name: str) -> None:
        assert self.user_pool is not None
        self.workforce = sagemaker.CfnWorkforce(
            self,
            "Workforce",
            workforce_name=name,
            cognito_config=sagemaker.CfnWorkforce.CognitoConfigProperty(
                client_id=self.client.user_pool_client_id, user_pool=self.user_pool.user_pool_id
            ),
        )
        self.workforce.node.add_dependency(self.domain)  # the portal signs in through this domain
        # AWS::SageMaker::Workforce is in the CloudFormation resource reference (and aws-cdk-lib's
        # CfnWorkforce is generated from that spec), but cfn-lint 1.51's region schemas omit it.
        self.workforce.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3006"]}})

    def _restore_portal_urls(
        self, role_name: str, logs_key: kms.IKey, log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
    ) -> None:
        """`RestorePortalUrls` (module docstring): the portal's URLs back on the client after each change."""
        assert self.user_pool is not None and self.workforce is not None
        role = PlatformRole(
            self,
            "RestoreRole",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Puts the labeling portal's URLs back on the workforce's app client",
        )
        log_group = logs.LogGroup(
            self, "RestoreLogs", encryption_key=logs_key, retention=log_retention, removal_policy=removal_policy
        )
        call = cr.AwsSdkCall(
            service="CognitoIdentityServiceProvider",
            action="updateUserPoolClient",
            parameters=self._portal_client_settings(),
            physical_resource_id=cr.PhysicalResourceId.of(self.client.user_pool_client_id),
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RestorePortalUrls",
                actions=["cognito-idp:UpdateUserPoolClient"],
                resources=[self.user_pool.user_pool_arn],
            )
        )
        log_group.grant_write(role)
        self.restore = cr.AwsCustomResource(
            self,
            "RestorePortalUrls",
            on_create=call,
            on_update=call,
            role=role,
            log_group=log_group,
            install_latest_aws_sdk=False,
            timeout=cdk.Duration.minutes(2),
        )
        self.restore.node.add_dependency(self.workforce, self.client)
        _acknowledge_restore(self)

    def _portal_client_settings(self) -> dict[str, object]:
        """UpdateUserPoolClient's request: the template's full client settings with the portal's URLs
        (UpdateUserPoolClient resets every setting it is not given)."""
        assert self.user_pool is not None and self.workforce is not None
        portal = f"https://{self.workforce.attr_sub_domain}"
        return {
            "UserPoolId": self.user_pool.user_pool_id,
            "ClientId": self.client.user_pool_client_id,
            "AllowedOAuthFlows": ["code", "implicit"],
            "AllowedOAuthScopes": list(OAUTH_SCOPES),
            "AllowedOAuthFlowsUserPoolClient": True,
            "SupportedIdentityProviders": ["COGNITO"],
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "PreventUserExistenceErrors": "ENABLED",
            "CallbackURLs": [f"{portal}/oauth2/idpresponse"],
            "LogoutURLs": [f"{portal}/logout"],
        }

    def _workteam(self, name: str, workforce_name: str, groups: Sequence[str]) -> None:
        assert self.user_pool is not None
        members = []
        for group in groups:
            cognito.CfnUserPoolGroup(
                self,
                f"Group{_pascal(group)}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group,
                description=f"Workers of the {name} labeling workteam",
            )
            members.append(
                sagemaker.CfnWorkteam.MemberDefinitionProperty(
                    cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                        cognito_client_id=self.client.user_pool_client_id,
                        cognito_user_group=group,
                        cognito_user_pool=self.user_pool.user_pool_id,
                    )
                )
            )
        self.workteam = sagemaker.CfnWorkteam(
            self,
            "Workteam",
            workteam_name=f"{name}-labelers",
            workforce_name=workforce_name,
            description=f"{name}: private labelers ({', '.join(groups)})",
            member_definitions=members,
            notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                notification_topic_arn=self.notification_topic.topic_arn
            ),
        )
        for child in self.node.children:
            if isinstance(child, cognito.CfnUserPoolGroup):
                self.workteam.node.add_dependency(child)
        if self.workforce is not None:
            self.workteam.node.add_dependency(self.workforce)
        # Ref is the workteam ARN (the WorkteamArn attribute is not in the resource schema cfn-lint checks).
        self.workteam_arn = self.workteam.ref


def _acknowledge_restore(scope: Construct) -> None:
    """The SDK custom resource's provider function is CDK's own singleton in the stack."""
    stack = cdk.Stack.of(scope)
    provider = stack.node.try_find_child("AWS679f53fac002430cb0da5b7982bd2287")
    if provider is None:
        return
    reason = (
        "CDK's AwsCustomResource provider: it runs only during deployments to call "
        "cognito-idp:UpdateUserPoolClient on this pool's portal client"
    )
    nag.acknowledge_all(
        provider,
        nag.LAMBDA_IN_VPC,
        reason + "; a control-plane call needs no VPC and the isolated VPC has no Cognito endpoint",
    )
    nag.acknowledge_all(
        provider, nag.LAMBDA_DLQ, reason + "; CloudFormation invokes it synchronously and reports a failure itself"
    )
    nag.acknowledge_all(provider, nag.LAMBDA_CONCURRENCY, reason + "; invoked once per deployment")


def _pascal(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("_", "-").replace(".", "-").split("-") if part)

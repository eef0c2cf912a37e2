// The AML batch-scoring scheduler in one resource group: storage, a user-assigned managed
// identity, monitoring, the Functions plan and app, and the roles the identity needs.
// Deploy with `az deployment group create`; publish the code with `func azure functionapp
// publish`. README.md (Deploy to Azure) walks through both.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------- hosting

@description('Azure region of every resource created here (the AML workspace may be elsewhere).')
param location string = resourceGroup().location

@description('Start of every resource name: 3-11 lowercase letters, digits or hyphens.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'amlsched'

@description('Function app name; must be unique across Azure. Default: derived from namePrefix and the resource group.')
param functionAppName string = ''

// Consumption (Linux, retiring 30 Sep 2028) and Premium keep the app's code on an Azure Files
// share, which accepts only an account key: those two plans turn shared-key access back on.
@description('FlexConsumption (default) uses no shared keys anywhere. Consumption and Premium need shared-key access on the storage account for their content share; see README.md, Deploy to Azure.')
@allowed([
  'FlexConsumption'
  'Consumption'
  'Premium'
])
param hostingPlan string = 'FlexConsumption'

// 3.13 runs azure-functions 2.x (requirements.txt picks the line by environment marker);
// the default is the version the test suite runs on.
@description('Python version of the app; with 3.13 requirements.txt installs azure-functions 2.x.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.11'

@description('Elastic Premium size, used only when hostingPlan is Premium.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

// Two timers and a small API need few instances; the cap bounds the bill if a client loops.
@description('Flex Consumption: most instances the app may scale out to (40-1000).')
@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 40

@description('Flex Consumption: memory of each instance, which is also what an execution is billed by.')
@allowed([
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Resource id of a subnet for virtual-network integration (private AML workspaces). Flex Consumption needs it delegated to Microsoft.App/environments, Premium to Microsoft.Web/serverFarms; the Consumption plan has no VNet integration. Empty: no integration.')
param integrationSubnetId string = ''

@description('Days Log Analytics keeps the app\'s logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Daily ingestion cap of the Log Analytics workspace in GB, a guard against a log flood; -1 for no cap.')
param logDailyQuotaGb int = 1

@description('Tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------- the AML workspace

@description('Subscription of the existing AML workspace.')
param amlSubscriptionId string = subscription().subscriptionId

@description('Resource group of the existing AML workspace.')
param amlResourceGroup string

@description('Name of the existing AML workspace.')
param amlWorkspaceName string

@description('Workspace region (AML_REGION). Empty: read from the workspace itself.')
param amlRegion string = ''

@description('Explicit AML data-plane base URL (AML_API_BASE_URL), for private link or sovereign clouds. Empty: https://<region>.api.azureml.ms.')
param amlApiBaseUrl string = ''

@description('Grant AzureML Compute Operator as well, so the compute create, update and delete routes work. Off: AzureML Data Scientist only, which cannot create or delete compute.')
param enableComputeWrites bool = false

// ---------------------------------------------------------------- app settings the code reads

@description('ARM endpoint (ARM_BASE_URL); the default follows the cloud you deploy to.')
param armBaseUrl string = environment().resourceManager

@description('Token scope for ARM calls (ARM_TOKEN_SCOPE).')
param armTokenScope string = '${environment().resourceManager}.default'

@description('Token scope for the AML pipelines and run-history services (AML_TOKEN_SCOPE). Empty: the ARM scope. https://ml.azure.com/.default also works.')
param amlTokenScope string = ''

@description('Explicit base URL of batch-endpoint scoring (AML_INFERENCE_BASE_URL), for private link. Empty: https://<endpoint>.<region>.inference.ml.azure.com, which needs amlRegion.')
param amlInferenceBaseUrl string = ''

@description('Token scope of batch-endpoint invocations (AML_BATCH_TOKEN_SCOPE).')
param amlBatchTokenScope string = 'https://ml.azure.com/.default'

@description('Base of the studio links stored with each run (AML_STUDIO_URL).')
param amlStudioUrl string = 'https://ml.azure.com'

@description('Read timeout of each AML request in seconds (AML_HTTP_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(200)
param amlHttpTimeoutSeconds int = 30

@description('Retries of a retryable AML call (AML_MAX_RETRIES).')
@minValue(0)
@maxValue(10)
param amlMaxRetries int = 4

@description('Microsoft.MachineLearningServices api-version of the compute routes (AML_COMPUTE_API_VERSION). Empty: the app\'s built-in default.')
param amlComputeApiVersion string = ''

@description('Microsoft.MachineLearningServices api-version of the AML v2 routes: jobs, batch endpoints, schedules (AML_V2_API_VERSION). Empty: the app\'s built-in default.')
param amlV2ApiVersion string = ''

@description('Allow the proxy\'s destructive routes, compute delete and run cancel (AML_PROXY_ALLOW_DESTRUCTIVE). Each one is logged with its caller either way.')
param amlProxyAllowDestructive bool = true

@description('Largest upload the run-submission route accepts, in MB (AML_PROXY_MAX_UPLOAD_MB).')
@minValue(1)
@maxValue(100)
param amlProxyMaxUploadMb int = 20

@description('Longest a proxied request waits for a long-running AML operation, in seconds (AML_PROXY_MAX_WAIT_SECONDS); HTTP responses are cut off at 230 s.')
@minValue(0)
@maxValue(200)
param amlProxyMaxWaitSeconds int = 60

@description('Table of schedule definitions (SCHEDULES_TABLE): 3-63 letters and digits, starting with a letter.')
param schedulesTableName string = 'schedules'

@description('Table of run records (RUNS_TABLE): 3-63 letters and digits, starting with a letter.')
param runsTableName string = 'runs'

@description('Days run records are kept before the poller deletes them (RUNS_RETENTION_DAYS).')
@minValue(1)
@maxValue(3650)
param runsRetentionDays int = 90

@description('Queue of claimed slots the workers take (SLOT_QUEUE); its poison queue is <name>-poison.')
@minLength(3)
@maxLength(56)
param slotQueueName string = 'scheduler-slots'

@description('Queue of alert messages the webhook sender takes (ALERT_QUEUE); its poison queue is <name>-poison.')
@minLength(3)
@maxLength(56)
param alertQueueName string = 'alerts'

@description('Hosts schedules\' alert webhooks may post to (ALERT_WEBHOOK_HOSTS): a comma list of hosts and *.suffix wildcards, e.g. *.webhook.office.com,hooks.slack.com. Empty: webhooks are refused.')
param alertWebhookHosts string = ''

@description('Create the example Azure Monitor log alert on the app\'s alert events (README, Alerts).')
param deployAlertRule bool = false

@description('Action group the example alert rule notifies (resource id). Empty: the alert only shows in Azure Monitor.')
param alertRuleActionGroupId string = ''

@description('Schedules the outcome poll checks at once (POLL_CONCURRENCY).')
@minValue(1)
@maxValue(64)
param pollConcurrency int = 32

@description('Due schedules per dispatch message (DISPATCH_PAGE_SIZE): a busy shard goes to the workers in pages of this many.')
@minValue(1)
@maxValue(100)
param dispatchPageSize int = 32

@description('Threads of each Python worker process (PYTHON_THREADPOOL_THREAD_COUNT): queue messages handled at once, plus the timers.')
@minValue(4)
@maxValue(64)
param workerThreadCount int = 32

@description('NCRONTAB of the scheduling timer (TICK_SCHEDULE), in UTC.')
param tickSchedule string = '0 * * * * *'

@description('NCRONTAB of the outcome poller (POLL_SCHEDULE), in UTC.')
param pollSchedule string = '30 * * * * *'

// ---------------------------------------------------------------- who may call the API

// docs/access.md: the app registration, its app roles and who gets them.
@description('Put App Service Authentication (Easy Auth) with Microsoft Entra ID in front of the API and authorise each call by the caller\'s app roles (API_AUTH_MODE=entra); function keys are then not used. Off: function keys (API_AUTH_MODE=functionKey).')
param enableEntraAuth bool = false

@description('Application (client) id of the API\'s Entra app registration, the one declaring the app roles. Required with enableEntraAuth.')
param entraClientId string = ''

@description('Tenant of the app registration; tokens from other tenants are refused. Default: the tenant of this deployment.')
param entraTenantId string = tenant().tenantId

@description('Token audiences Easy Auth accepts. Empty: api://<entraClientId> and <entraClientId> (v1 and v2 access tokens).')
param entraAllowedAudiences array = []

@description('Let Easy Auth sign users in through the browser (the console) with the app\'s managed identity as a federated identity credential of the app registration, instead of a client secret (preview; docs/access.md). Off: no secret either, tokens are only validated.')
param entraSignInWithManagedIdentity bool = false

// ---------------------------------------------------------------- names and switches

var isFlex = hostingPlan == 'FlexConsumption'
var isConsumption = hostingPlan == 'Consumption'
var isPremium = hostingPlan == 'Premium'
var vnetEnabled = !empty(integrationSubnetId)
var token = uniqueString(resourceGroup().id, namePrefix)
var appName = empty(functionAppName) ? '${namePrefix}-func-${token}' : functionAppName
var storageAccountName = take(toLower(replace('${namePrefix}${token}', '-', '')), 24)
var deploymentContainerName = 'app-package'
var contentShareName = take(toLower(appName), 63)

// Built-in role definition ids; the same in every tenant and cloud.
var storageRoles = [
  {
    // Host keys, timer singleton leases, the Flex deployment package.
    name: 'Storage Blob Data Owner'
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  }
  {
    // The Functions host's own queues, and the app's slot and alert queues (sent to and triggered on).
    name: 'Storage Queue Data Contributor'
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  }
  {
    // The schedules and runs tables (created on first use, so tables/write too).
    name: 'Storage Table Data Contributor'
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  }
]
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

var entraIssuer = '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'
var entraAudiences = empty(entraAllowedAudiences) ? [
  'api://${entraClientId}'
  entraClientId
] : entraAllowedAudiences
// The setting name Easy Auth reads as "use the managed identity named here as the client
// assertion" (a federated identity credential) where it would otherwise read a secret.
var managedIdentityAssertionSetting = 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'

// ---------------------------------------------------------------- identity and storage

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id-${token}'
  location: location
  tags: tags
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Only the plans whose content share needs an account key get shared keys back.
    allowSharedKeyAccess: !isFlex
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (isFlex) {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = if (!isFlex) {
  parent: storage
  name: 'default'
}

resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = if (!isFlex) {
  parent: fileService
  name: contentShareName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource schedulesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: schedulesTableName
}

resource runsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: runsTableName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Created here so the first tick's messages have somewhere to go before any worker ran,
// and the poison queue so that the poison worker's trigger has a queue from the start.
resource slotQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: slotQueueName
}

resource slotPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${slotQueueName}-poison'
}

// The alert queue and its poison queue, for the same reasons. The identity's Storage Queue
// Data Contributor on the account covers them: no further role.
resource alertQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: alertQueueName
}

resource alertPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${alertQueueName}-poison'
}

resource storageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: {
  name: guid(storage.id, identity.id, role.id)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.id)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

// ---------------------------------------------------------------- monitoring

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
    workspaceCapping: {
      dailyQuotaGb: logDailyQuotaGb
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-appi-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    // Telemetry is accepted only with an Entra token, so the connection string's
    // instrumentation key is an address, not a credential.
    DisableLocalAuth: true
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

module alertRule 'modules/alert-rule.bicep' = if (deployAlertRule) {
  name: 'alert-rule-${token}'
  params: {
    name: '${namePrefix}-schedule-incident-${token}'
    location: location
    applicationInsightsId: appInsights.id
    actionGroupId: alertRuleActionGroupId
    tags: tags
  }
}

// ---------------------------------------------------------------- the AML workspace

module workspaceRoles 'modules/workspace-roles.bicep' = {
  name: 'workspace-roles-${token}'
  scope: resourceGroup(amlSubscriptionId, amlResourceGroup)
  params: {
    workspaceName: amlWorkspaceName
    principalId: identity.properties.principalId
    grantComputeOperator: enableComputeWrites
  }
}

// ---------------------------------------------------------------- app settings

// Every setting shared.config reads (tests/infra compares these keys with SETTING_NAMES).
var schedulerSettings = {
  AML_SUBSCRIPTION_ID: amlSubscriptionId
  AML_RESOURCE_GROUP: amlResourceGroup
  AML_WORKSPACE_NAME: amlWorkspaceName
  AML_REGION: empty(amlRegion) ? toLower(replace(workspaceRoles.outputs.location, ' ', '')) : amlRegion
  AML_API_BASE_URL: amlApiBaseUrl
  ARM_BASE_URL: armBaseUrl
  ARM_TOKEN_SCOPE: armTokenScope
  AML_TOKEN_SCOPE: amlTokenScope
  AML_STUDIO_URL: amlStudioUrl
  AML_INFERENCE_BASE_URL: amlInferenceBaseUrl
  AML_BATCH_TOKEN_SCOPE: amlBatchTokenScope
  AML_HTTP_TIMEOUT_SECONDS: string(amlHttpTimeoutSeconds)
  AML_MAX_RETRIES: string(amlMaxRetries)
  AML_COMPUTE_API_VERSION: amlComputeApiVersion
  AML_V2_API_VERSION: amlV2ApiVersion
  AML_PROXY_ALLOW_DESTRUCTIVE: amlProxyAllowDestructive ? 'true' : 'false'
  AML_PROXY_MAX_UPLOAD_MB: string(amlProxyMaxUploadMb)
  AML_PROXY_MAX_WAIT_SECONDS: string(amlProxyMaxWaitSeconds)
  AZURE_CLIENT_ID: identity.properties.clientId
  // Empty on purpose: the tables are reached with the identity through TABLES_ENDPOINT,
  // and a connection string here would win over it.
  TABLES_CONNECTION_STRING: ''
  TABLES_ENDPOINT: storage.properties.primaryEndpoints.table
  SCHEDULES_TABLE: schedulesTableName
  RUNS_TABLE: runsTableName
  RUNS_RETENTION_DAYS: string(runsRetentionDays)
  TICK_SCHEDULE: tickSchedule
  POLL_SCHEDULE: pollSchedule
  SLOT_QUEUE: slotQueueName
  // Empty on purpose, as for the tables: the queue is reached with the identity.
  QUEUES_CONNECTION_STRING: ''
  QUEUES_ENDPOINT: storage.properties.primaryEndpoints.queue
  POLL_CONCURRENCY: string(pollConcurrency)
  DISPATCH_PAGE_SIZE: string(dispatchPageSize)
  // entra only together with Easy Auth (authSettings below): the app refuses to serve in
  // entra mode when App Service says authentication is off.
  API_AUTH_MODE: enableEntraAuth ? 'entra' : 'functionKey'
  ALERT_QUEUE: alertQueueName
  ALERT_WEBHOOK_HOSTS: alertWebhookHosts
  // ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST is for local development only and never set here.
}

// Read by the Python worker, not by the app.
var workerSettings = {
  // Queue workers spend their time waiting on AML and storage, so each worker process
  // runs up to a batch and a half of messages at once (host.json: batchSize 16, the
  // next batch fetched at 8 left) and needs a thread for each, with room for the timers.
  PYTHON_THREADPOOL_THREAD_COUNT: string(workerThreadCount)
  // Python runs one thread at a time per process: one worker process per vCPU of the
  // instance (Flex Consumption: 2048 MB instances have 1 vCPU, 4096 MB have 2).
  FUNCTIONS_WORKER_PROCESS_COUNT: string(isFlex && flexInstanceMemoryMB == 4096 ? 2 : 1)
}

var identityHostStorage = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
}

// Consumption and Premium only (never evaluated on Flex, where shared keys are off).
var keyedConnectionString = isFlex ? '' : 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'

// Linux Consumption: Core Tools and the platform put the deployment package in the
// AzureWebJobsStorage account with a key, so that plan cannot use the identity here.
var hostStorageSettings = isConsumption ? {
  AzureWebJobsStorage: keyedConnectionString
} : identityHostStorage

var contentShareSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'python'
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: keyedConnectionString
  WEBSITE_CONTENTSHARE: contentShareName
}

var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
}

// Read by Easy Auth, not by the app: the client id of the identity it signs in with.
var easyAuthSettings = enableEntraAuth && entraSignInWithManagedIdentity ? {
  '${managedIdentityAssertionSetting}': identity.properties.clientId
} : {}

var appSettings = union(schedulerSettings, workerSettings, hostStorageSettings, contentShareSettings, monitoringSettings, easyAuthSettings)

// ---------------------------------------------------------------- plan and app

var planSkus = {
  FlexConsumption: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  Consumption: {
    name: 'Y1'
    tier: 'Dynamic'
  }
  Premium: {
    name: premiumSku
    tier: 'ElasticPremium'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${namePrefix}-plan-${token}'
  location: location
  tags: tags
  kind: isPremium ? 'elastic' : 'functionapp'
  sku: planSkus[hostingPlan]
  properties: {
    reserved: true
    maximumElasticWorkerCount: isPremium ? 20 : null
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    clientAffinityEnabled: false
    virtualNetworkSubnetId: vnetEnabled ? integrationSubnetId : null
    // Private AML endpoints resolve only inside the VNet: send all outbound traffic there.
    vnetRouteAllEnabled: vnetEnabled
    vnetContentShareEnabled: isPremium && vnetEnabled
    functionAppConfig: isFlex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: flexMaximumInstanceCount
        instanceMemoryMB: flexInstanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    } : null
    siteConfig: {
      linuxFxVersion: isFlex ? null : 'Python|${pythonVersion}'
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // The content share has to be known when the app is created; the complete set of
      // settings follows in `settings` below.
      appSettings: isFlex ? [] : [
        {
          name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
          value: keyedConnectionString
        }
        {
          name: 'WEBSITE_CONTENTSHARE'
          value: contentShareName
        }
      ]
    }
  }
  dependsOn: [
    deploymentContainer
    contentShare
  ]
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettings
  // The host reaches storage and tables with the identity from its first start.
  dependsOn: [
    storageRoleAssignments
    telemetryPublisher
    schedulesTable
    runsTable
    slotQueue
    slotPoisonQueue
    alertQueue
    alertPoisonQueue
  ]
}

// App Service Authentication in front of the API (modules/easy-auth.bicep), once the app's
// own settings are complete, so Easy Auth never hands a principal to a half-configured app.
module easyAuth 'modules/easy-auth.bicep' = if (enableEntraAuth) {
  name: 'easy-auth-${token}'
  params: {
    appName: functionApp.name
    clientId: entraClientId
    issuer: entraIssuer
    allowedAudiences: entraAudiences
    clientSecretSettingName: entraSignInWithManagedIdentity ? managedIdentityAssertionSetting : ''
  }
  dependsOn: [
    settings
  ]
}

// ---------------------------------------------------------------- outputs

@description('Pass to `func azure functionapp publish`.')
output functionAppName string = functionApp.name

output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'

@description('Anonymous self-check: settings, tokens and tables, names only.')
output healthUrl string = 'https://${functionApp.properties.defaultHostName}/api/health'

output hostingPlan string = hostingPlan

output storageAccountName string = storage.name

output sharedKeyAccessEnabled bool = !isFlex

output tablesEndpoint string = storage.properties.primaryEndpoints.table

output managedIdentityClientId string = identity.properties.clientId

output managedIdentityPrincipalId string = identity.properties.principalId

output applicationInsightsName string = appInsights.name

@description('functionKey or entra: how callers of the API are authenticated.')
output apiAuthMode string = enableEntraAuth ? 'entra' : 'functionKey'

@description('Redirect URI to register on the Entra app registration (web platform) for browser sign-in.')
output entraRedirectUri string = 'https://${functionApp.properties.defaultHostName}/.auth/login/aad/callback'

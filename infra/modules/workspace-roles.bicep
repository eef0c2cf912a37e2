// Role assignments on the existing Azure ML workspace. A module because the workspace
// usually lives in another resource group (or subscription) than the scheduler.

targetScope = 'resourceGroup'

@description('Name of the existing Azure ML workspace in this resource group.')
param workspaceName string

@description('Principal (object) id of the scheduler\'s managed identity.')
param principalId string

@description('Also grant AzureML Compute Operator, for the compute create, update and delete routes.')
param grantComputeOperator bool = false

// Built-in role definition ids; the same in every tenant and cloud.
var azureMLDataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
var azureMLComputeOperator = 'e503ece1-11d0-4e8e-8e2c-7a6c3bf38815'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

// Submitting pipeline runs, reading run history, cancelling runs and starting or stopping
// compute instances. Its NotActions exclude compute writes and deletes, listing keys and
// changing the workspace itself.
resource dataScientist 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, azureMLDataScientist)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLDataScientist)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Only when the deployment opts in: this role is workspaces/computes/* (create, resize and
// delete clusters), which a scheduler that only submits runs does not need.
resource computeOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantComputeOperator) {
  name: guid(workspace.id, principalId, azureMLComputeOperator)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLComputeOperator)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Region of the workspace, which names the AML data-plane host.')
output location string = workspace.location

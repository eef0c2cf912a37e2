// An example Azure Monitor log alert on the scheduler's own alert events (README, Alerts):
// every incident a schedule opens or escalates (a failed run, a late run, a pause) is one
// `ALERT {...}` trace in Application Insights; this rule fires once per schedule and kind
// that had one in the last five minutes, whether or not the schedule has a webhook.

targetScope = 'resourceGroup'

@description('Name of the alert rule.')
param name string

@description('Region of the rule.')
param location string

@description('Resource id of the Application Insights resource the app logs to.')
param applicationInsightsId string

@description('Resource id of an action group to notify (e-mail, SMS, Teams, ...). Empty: the alert only shows in Azure Monitor.')
param actionGroupId string = ''

@description('Tags for the rule.')
param tags object = {}

// The Functions host sends a Python log record's text to Application Insights, not its
// extra fields: the event is parsed from the text, which is `ALERT ` and then JSON.
var query = '''
traces
| where message startswith "ALERT {"
| extend alert = parse_json(substring(message, 6))
| where tostring(alert.event) == "alert" and tostring(alert.kind) in ("failed", "late", "paused")
| project timestamp, scheduleId = tostring(alert.scheduleId), kind = tostring(alert.kind), status = tostring(alert.status), runKey = tostring(alert.runKey), incidentId = tostring(alert.incidentId)
'''

resource rule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: name
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'AML scheduler: a schedule has a new incident'
    description: 'A schedule\'s run failed or is late, or the schedule paused itself (one alert per incident, see README Alerts).'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: query
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'scheduleId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'kind'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // Each incident is its own event: nothing to resolve automatically.
    autoMitigate: false
    actions: {
      actionGroups: empty(actionGroupId) ? [] : [
        actionGroupId
      ]
    }
  }
}

@description('Resource id of the alert rule.')
output ruleId string = rule.id

<#
.SYNOPSIS
Presence Heartbeat: reports this computer's shutdown or startup to {{ url }} (a Group Policy computer script).

.DESCRIPTION
Assign it in a GPO: Computer Configuration > Policies > Windows Settings > Scripts (Startup/Shutdown),
tab "PowerShell Scripts", with the parameters "-Event shutdown" (Shutdown) or "-Event startup" (Startup).
It runs as SYSTEM, where no user is known, so it sends only the event and this computer's name as the
device; the server hands the event to the users who were on this computer (a terminal server's
every user). Every attempt gives up after 5 s and the whole run after -MaxSeconds (15 s at shutdown,
30 s at startup), so that shutting down or starting is never held up for long: Windows waits for
Group Policy scripts ("Specify maximum wait time for Group Policy scripts", 600 s by default).

The API key is read from key.txt in this script's own folder (copy it there with the script) into a
variable and sent in the Authorization header; it is never logged. The log is
%ProgramData%\PresenceHeartbeat\computer-events.log.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('shutdown', 'startup')]
    [string] $Event,
    [int] $MaxSeconds = 0
)

$ErrorActionPreference = 'Stop'
$Url = {{ url_ps }}
$KeyFile = Join-Path $PSScriptRoot 'key.txt'
$LogDir = Join-Path $env:ProgramData 'PresenceHeartbeat'
$LogFile = Join-Path $LogDir 'computer-events.log'
if ($MaxSeconds -le 0) {
    $MaxSeconds = 30
    if ($Event -eq 'shutdown') { $MaxSeconds = 15 }
}

function Write-Log([string] $Message) {
    $line = '{0} {1} {2}' -f (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'), $Event, $Message
    try {
        New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
        Add-Content -LiteralPath $LogFile -Value $line -Encoding UTF8
    } catch { }
}

try {
    $key = (Get-Content -LiteralPath $KeyFile -TotalCount 1).Trim()
} catch {
    Write-Log ('cannot read the API key file {0}' -f $KeyFile)
    exit 78
}
if ($key -notlike 'phk_*') {
    Write-Log ('{0} holds no API key ({{ key_placeholder }}?): paste the key from the admin''s integration page' -f $KeyFile)
    exit 78
}

$body = @{
    event  = $Event
    at     = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    device = $env:COMPUTERNAME
    id     = [guid]::NewGuid().ToString()
}
$headers = @{ Authorization = 'Bearer ' + $key }
# Windows PowerShell 5.1 may still offer TLS 1.0 only.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$deadline = (Get-Date).AddSeconds($MaxSeconds)
$delay = 1
while ($true) {
    try {
        $answer = Invoke-RestMethod -Method Post -Uri $Url -Headers $headers -Body $body -TimeoutSec 5
        Write-Log ('sent: trigger {0} {1}' -f $answer.id, $answer.status)
        exit 0
    } catch {
        $status = 0
        if ($_.Exception.Response) { $status = [int] $_.Exception.Response.StatusCode }
        if ($status -ge 400 -and $status -lt 500 -and $status -ne 408 -and $status -ne 429) {
            Write-Log ('refused with HTTP {0}: {1}' -f $status, $_.ErrorDetails.Message)
            exit 1
        }
        if ((Get-Date).AddSeconds($delay + 5) -gt $deadline) {
            Write-Log ('not sent: gave up after {0} s: {1}' -f $MaxSeconds, $_.Exception.Message)
            exit 1
        }
        Start-Sleep -Seconds $delay
        $delay = [Math]::Min($delay * 2, 4)
    }
}

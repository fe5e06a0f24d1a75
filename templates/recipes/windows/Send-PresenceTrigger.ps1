<#
.SYNOPSIS
Presence Heartbeat: reports one event for the signed-in user to {{ url }}.

.DESCRIPTION
Called by the "Presence Heartbeat" scheduled tasks and by the GPO logoff script. Sends the user
name, this computer (and the Remote Desktop session, if any) as the device, the time of the event
in UTC and an idempotency id, retrying with backoff (2, 4, 8 ... 30 s) for at most -MaxSeconds.
-At is the time the event happened when it is not now: the sleep and resume tasks pass the time
Windows logged their event, because a report started at sleep may only leave after waking.

The API key is read from %APPDATA%\PresenceHeartbeat\key.txt (an ACL lets only this user read it)
into a variable and sent in the Authorization header. It is never written to the log or the screen.
The log is %APPDATA%\PresenceHeartbeat\presence-heartbeat.log.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('logon', 'logoff', 'lock', 'unlock', 'shutdown', 'sleep', 'resume', 'heartbeat')]
    [string] $Event,
    [int] $MaxSeconds = {{ retry_seconds }},
    [string] $At = ''
)

$ErrorActionPreference = 'Stop'
$Url = {{ url_ps }}
$Dir = Join-Path $env:APPDATA 'PresenceHeartbeat'
$KeyFile = Join-Path $Dir 'key.txt'
$LogFile = Join-Path $Dir 'presence-heartbeat.log'

function Write-Log([string] $Message) {
    $line = '{0} {1} {2}' -f (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'), $Event, $Message
    try { Add-Content -LiteralPath $LogFile -Value $line -Encoding UTF8 } catch { }
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

# On a Remote Desktop host several users work at once: name the session, not only the computer.
$session = $env:SESSIONNAME
if (-not $session) { $session = 'session {0}' -f (Get-Process -Id $PID).SessionId }
$device = $env:COMPUTERNAME
if ($session -ne 'Console') { $device = '{0}/{1}' -f $env:COMPUTERNAME, $session }

# When it happened: the event's own time if the task passed one (ISO 8601 from the event log), else now.
$when = (Get-Date).ToUniversalTime()
if ($At) {
    try {
        $when = [DateTimeOffset]::Parse($At, [Globalization.CultureInfo]::InvariantCulture).UtcDateTime
    } catch {
        Write-Log ('ignoring -At {0}: not a time, sending the time now' -f $At)
    }
}

$body = @{
    user   = $env:USERNAME
    event  = $Event
    at     = $when.ToString('yyyy-MM-ddTHH:mm:ssZ')
    device = $device
    id     = [guid]::NewGuid().ToString()
}
$headers = @{ Authorization = 'Bearer ' + $key }
# Windows PowerShell 5.1 may still offer TLS 1.0 only.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$deadline = (Get-Date).AddSeconds($MaxSeconds)
$delay = 2
while ($true) {
    try {
        $answer = Invoke-RestMethod -Method Post -Uri $Url -Headers $headers -Body $body -TimeoutSec 10
        Write-Log ('sent: trigger {0} {1}' -f $answer.id, $answer.status)
        exit 0
    } catch {
        $status = 0
        if ($_.Exception.Response) { $status = [int] $_.Exception.Response.StatusCode }
        if ($status -ge 400 -and $status -lt 500 -and $status -ne 408 -and $status -ne 429) {
            Write-Log ('refused with HTTP {0}: {1}' -f $status, $_.ErrorDetails.Message)
            exit 1
        }
        if ((Get-Date).AddSeconds($delay) -gt $deadline) {
            Write-Log ('not sent: gave up after {0} s: {1}' -f $MaxSeconds, $_.Exception.Message)
            exit 1
        }
        Start-Sleep -Seconds $delay
        $delay = [Math]::Min($delay * 2, 30)
    }
}

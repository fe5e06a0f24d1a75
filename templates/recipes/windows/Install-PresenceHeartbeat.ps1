<#
.SYNOPSIS
Presence Heartbeat: installs the trigger tasks for the user who runs it (no administrator rights needed).

.DESCRIPTION
Run it as the user, from the unpacked download (or from a GPO logon script):
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\Install-PresenceHeartbeat.ps1

It copies Send-PresenceTrigger.ps1 and key.txt to %APPDATA%\PresenceHeartbeat, lets only this user
read key.txt (icacls: inheritance removed, this user alone granted), registers the tasks in
tasks\*.xml with schtasks /create /xml under "\Presence Heartbeat\" with this user in each
logon/session trigger (so that on a Remote Desktop host every user's tasks fire for their own
session only), and sends one heartbeat to check the connection to {{ url }}.

The tasks start PowerShell under "conhost.exe --headless", so no console window flashes on the
user's screen. -ShowConsole registers plain powershell.exe instead (for a security product that
objects to headless console hosts; a window may then flash for a moment).
#>
[CmdletBinding()]
param(
    [string] $Source = $PSScriptRoot,
    [switch] $ShowConsole
)

$ErrorActionPreference = 'Stop'
$TaskNamespace = 'http://schemas.microsoft.com/windows/2004/02/mit/task'
$Dir = Join-Path $env:APPDATA 'PresenceHeartbeat'
$Me = '{0}\{1}' -f $env:USERDOMAIN, $env:USERNAME

New-Item -ItemType Directory -Force -Path $Dir | Out-Null
Copy-Item -LiteralPath (Join-Path $Source 'Send-PresenceTrigger.ps1') -Destination $Dir -Force

$keyFile = Join-Path $Dir 'key.txt'
$key = (Get-Content -LiteralPath (Join-Path $Source 'key.txt') -TotalCount 1).Trim()
if ($key -notlike 'phk_*') {
    throw 'key.txt holds no API key ({{ key_placeholder }}): put the key from the admin''s integration page into it first.'
}
Set-Content -LiteralPath $keyFile -Value $key -Encoding ASCII
# Only this user may read the key: no inherited entries, one grant for this user.
& icacls.exe $keyFile /inheritance:r /grant:r ('{0}:(F)' -f $Me) | Out-Null
if ($LASTEXITCODE -ne 0) { throw ('icacls could not restrict {0}' -f $keyFile) }

foreach ($file in Get-ChildItem -LiteralPath (Join-Path $Source 'tasks') -Filter 'presence-*.xml') {
    $xml = New-Object System.Xml.XmlDocument
    $xml.Load($file.FullName)
    foreach ($trigger in $xml.Task.Triggers.ChildNodes) {
        if ($trigger.LocalName -ne 'LogonTrigger' -and $trigger.LocalName -ne 'SessionStateChangeTrigger') { continue }
        # A trigger without a user fires for every user's logon or session (and needs administrator rights).
        $user = $xml.CreateElement('UserId', $TaskNamespace)
        $user.InnerText = $Me
        $stateChange = $trigger['StateChange']
        if ($stateChange) { [void] $trigger.InsertBefore($user, $stateChange) } else { [void] $trigger.AppendChild($user) }
    }
    if ($ShowConsole) {
        foreach ($exec in $xml.Task.Actions.ChildNodes) {
            if ($exec.LocalName -ne 'Exec' -or $exec.Command -ne 'conhost.exe') { continue }
            $exec['Command'].InnerText = 'powershell.exe'
            $exec['Arguments'].InnerText = $exec.Arguments -replace '^--headless powershell\.exe ', ''
        }
    }
    $name = 'Presence Heartbeat\' + $file.BaseName.Substring('presence-'.Length)
    $tmp = Join-Path $env:TEMP $file.Name
    $xml.Save($tmp)
    & schtasks.exe /create /xml $tmp /tn $name /f | Out-Null
    $code = $LASTEXITCODE
    Remove-Item -LiteralPath $tmp -Force
    if ($code -ne 0) { throw ('schtasks could not register {0}' -f $name) }
    Write-Host ('registered task {0}' -f $name)
}

& powershell.exe -NoProfile -ExecutionPolicy Bypass -File (Join-Path $Dir 'Send-PresenceTrigger.ps1') -Event heartbeat -MaxSeconds 20
if ($LASTEXITCODE -eq 0) {
    Write-Host 'Presence Heartbeat is installed and the server answered.'
} else {
    Write-Warning ('Installed, but the test heartbeat failed: see {0}' -f (Join-Path $Dir 'presence-heartbeat.log'))
}

@echo off
rem Presence Heartbeat: Group Policy LOGOFF script (User Configuration > Policies > Windows Settings >
rem Scripts (Logon/Logoff) > Logoff). It runs as the user, while the user's network is still up;
rem a computer shutdown script would run as SYSTEM after the user is gone. It uses the sender and the
rem key that Install-PresenceHeartbeat.ps1 put into %APPDATA%\PresenceHeartbeat, and gives up after
rem 30 s so that logging off is never held up for long.
if not exist "%APPDATA%\PresenceHeartbeat\Send-PresenceTrigger.ps1" exit /b 0
powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -File "%APPDATA%\PresenceHeartbeat\Send-PresenceTrigger.ps1" -Event logoff -MaxSeconds 30
exit /b 0

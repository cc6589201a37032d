module volplugin

go 1.21

module toolgate.local/pause

go 1.24

module example.com/hello-api

go 1.22

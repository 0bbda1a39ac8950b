module github.com/gouml/gouml

go 1.26

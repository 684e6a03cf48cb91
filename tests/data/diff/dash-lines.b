title
+++ new rule
end

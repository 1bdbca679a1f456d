enum ScientistModule {}
